import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ConvCase, convCaseData, convCases, data, maxRelErr, on, setup } from './helpers';

beforeAll(setup);

type Case = ConvCase;
const cases = convCases();

const name = (c: Case) => `n${c.n} ${c.h}x${c.w} ci${c.ci} co${c.co} k${c.k} s${c.s} ${c.pad}`;

describe('Conv2DBackpropFilter / Conv2DBackpropInput on wasm match cpu', () => {
  it.each(cases)('$pad s$s k$k %#', async (c) => {
    const { xShape, fShape, yShape, x, f, dy, backprop } = convCaseData(c);
    const run = () =>
      backprop(tf.tensor4d(x, xShape), tf.tensor4d(f, fShape), tf.tensor(dy, yShape));
    const [cw, cx] = await on('cpu', run);
    const before = tf.memory().numTensors;
    const [ww, wx] = await on('wasm', run);
    expect(tf.memory().numTensors, name(c)).toBe(before);
    expect(maxRelErr(ww!, cw!), `dW ${name(c)}`).toBeLessThan(1e-5);
    expect(maxRelErr(wx!, cx!), `dx ${name(c)}`).toBeLessThan(1e-5);
  });
});

describe('gradients through tf.grad on wasm match cpu', () => {
  it.each([
    [1, 'same'],
    [2, 'same'],
    [2, 'valid'],
  ] as const)('conv2d and conv2dTranspose, stride %i %s', async (s, pad) => {
    const xShape: [number, number, number, number] = [2, 9, 8, 3];
    const x = data(2 * 9 * 8 * 3, 5);
    const f = data(3 * 3 * 3 * 4, 6);
    const f2 = data(3 * 3 * 2 * 3, 7);
    const run = () => {
      const xt = tf.tensor4d(x, xShape);
      const ft = tf.tensor4d(f, [3, 3, 3, 4]);
      const ft2 = tf.tensor4d(f2, [3, 3, 2, 3]);
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad)));
      const [gx, gf] = tf.grads(loss)([xt, ft]);
      // conv2dTranspose from 9x8x3 up to (s*9)x(s*8)x2.
      const outShape: [number, number, number, number] =
        pad === 'same' ? [2, 9 * s, 8 * s, 2] : [2, (9 - 1) * s + 3, (8 - 1) * s + 3, 2];
      const lossT = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.sigmoid(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape, s, pad)),
        );
      const [tx, tf2] = tf.grads(lossT)([xt, ft2]);
      return [gx!, gf!, tx!, tf2!];
    };
    const cpu = await on('cpu', run);
    const before = tf.memory().numTensors;
    const wasm = await on('wasm', run);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < cpu.length; i++) {
      expect(maxRelErr(wasm[i]!, cpu[i]!), `output ${i}`).toBeLessThan(1e-4);
    }
  });
});

describe('BatchMatMul on wasm matches cpu', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('transposeA=%s transposeB=%s', async (ta, tb) => {
    const [m, k, n] = [5, 7, 3];
    const a = data(m * k, 11);
    const b = data(k * n, 12);
    const run = () => {
      const at = tf.tensor2d(a, ta ? [k, m] : [m, k]);
      const bt = tf.tensor2d(b, tb ? [n, k] : [k, n]);
      const batched = tf.matMul(tf.expandDims(at, 0), tf.expandDims(bt, 0), ta, tb);
      return [tf.matMul(at, bt, ta, tb), batched];
    };
    const cpu = await on('cpu', run);
    const before = tf.memory().numTensors;
    const wasm = await on('wasm', run);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxRelErr(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
    expect(maxRelErr(wasm[1]!, cpu[1]!)).toBeLessThan(1e-5);
  });
});

describe('Sum on wasm matches cpu', () => {
  it.each([
    [[6, 5, 4, 3], [0, 1, 2], false],
    [[6, 5, 4, 3], [0, 1, 2], true],
    [[6, 5, 4, 3], [0], false],
    [[6, 5, 4, 3], [1, 2], false],
    [[6, 5], [1], true],
    [[7], [0], false],
  ] as const)('shape %j axes %j keepDims %s', async (shape, axes, keepDims) => {
    const x = data(
      shape.reduce((p, q) => p * q, 1),
      41,
    );
    const run = () => tf.sum(tf.tensor(x, [...shape]), [...axes], keepDims);
    const cpu = await on('cpu', run);
    const before = tf.memory().numTensors;
    const wasm = await on('wasm', run);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxRelErr(wasm[0]!, cpu[0]!)).toBeLessThan(1e-5);
    await tf.setBackend('wasm');
    const shapeOut = tf.tidy(() => run().shape);
    await tf.setBackend('cpu');
    const cpuShape = tf.tidy(() => run().shape);
    await tf.setBackend('wasm');
    expect(shapeOut).toEqual(cpuShape);
  });
});
