import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { portableKernels } from '../../src/core/kernels/index';
import { buildClassifier } from '../../src/core/models';
import {
  loadNativeAddon,
  nativeAddonError,
  nativeInfo,
  nativeKernelsActive,
  registerNativeKernels,
} from '../../src/node/native/index';
import { initWasmBackend } from '../../src/node/wasm-backend';
import {
  type ConvCase,
  convCaseData,
  convCases,
  data,
  maxRelErr,
  on,
} from '../core/kernels/helpers';
import { BATCH, batch, expectVaeTrainingLowersLoss, SHAPE } from '../core/kernels/training-helpers';

const available = loadNativeAddon() !== null;
if (!available) {
  console.warn(
    `native kernels: skipped, the addon is not available (${nativeAddonError()}). ` +
      'Install libopenblas-dev and run `npm run build:native`.',
  );
}

beforeAll(async () => {
  await initWasmBackend({ threads: 1, native: true, nativeThreads: 2 });
});

type Case = ConvCase;
const cases = convCases();
// Pointwise (no im2col), and shapes big enough for many chunks over both threads.
cases.push({ n: 3, h: 5, w: 6, ci: 7, co: 9, k: 1, s: 1, d: 1, pad: 'valid' });
cases.push({ n: 9, h: 28, w: 28, ci: 1, co: 8, k: 3, s: 1, d: 1, pad: 'same' });
cases.push({ n: 5, h: 14, w: 14, ci: 16, co: 24, k: 3, s: 2, d: 1, pad: 'same' });
cases.push({ n: 7, h: 7, w: 7, ci: 64, co: 33, k: 3, s: 1, d: 1, pad: 'same' });

const name = (c: Case) =>
  `n${c.n} ${c.h}x${c.w} ci${c.ci} co${c.co} k${c.k} s${c.s} d${c.d} ${c.pad}`;

describe.skipIf(!available)('native kernels on wasm match cpu', () => {
  it('are registered, with the pool size asked for', () => {
    expect(nativeKernelsActive()).toBe(true);
    expect(nativeInfo()?.threads).toBe(2);
    expect(nativeInfo()?.blas).toMatch(/OpenBLAS/);
  });

  it.each(cases)('conv2d / fused / backprop filter / backprop input: %#', async (c) => {
    const { xShape, fShape, yShape, x, f, dy, backprop } = convCaseData(c);
    const bias = data(c.co, 4);
    const run = () => {
      const xt = tf.tensor4d(x, xShape);
      const ft = tf.tensor4d(f, fShape);
      const bt = tf.tensor1d(bias);
      const dyt = tf.tensor(dy, yShape);
      const y = tf.conv2d(xt, ft, c.s, c.pad);
      const relu = tf.fused.conv2d({
        x: xt,
        filter: ft,
        strides: c.s,
        pad: c.pad,
        bias: bt,
        activation: 'relu',
      });
      const sig = tf.fused.conv2d({
        x: xt,
        filter: ft,
        strides: c.s,
        pad: c.pad,
        bias: bt,
        activation: 'sigmoid',
      });
      const [dw, dx] = backprop(xt, ft, dyt);
      return [y, relu, sig, dw, dx];
    };
    const cpu = await on('cpu', run);
    const before = tf.memory().numTensors;
    const nat = await on('wasm', run);
    expect(tf.memory().numTensors, name(c)).toBe(before);
    const labels = ['conv2d', 'fused relu', 'fused sigmoid', 'dW', 'dx'];
    for (let i = 0; i < cpu.length; i++) {
      expect(maxRelErr(nat[i]!, cpu[i]!), `${labels[i]} ${name(c)}`).toBeLessThan(2e-5);
    }
  });

  it.each([1, 2])('dilated conv2d, dilation %i', async (d) => {
    const x = data(2 * 9 * 9 * 3, 8);
    const f = data(3 * 3 * 3 * 4, 9);
    const run = () =>
      tf.conv2d(tf.tensor4d(x, [2, 9, 9, 3]), tf.tensor4d(f, [3, 3, 3, 4]), 1, 'same', 'NHWC', d);
    const [cpu] = await on('cpu', run);
    const [nat] = await on('wasm', run);
    expect(maxRelErr(nat!, cpu!)).toBeLessThan(2e-5);
  });

  it.each([
    [false, false, [], []],
    [true, false, [], []],
    [false, true, [], []],
    [true, true, [], []],
    [false, false, [3], [3]],
    [true, true, [2, 3], [2, 3]],
    [false, true, [4], []],
    [false, false, [], [4]],
  ] as const)('matMul transposeA=%s transposeB=%s batch %j x %j', async (ta, tb, ba, bb) => {
    const [m, k, n] = [37, 70, 45];
    const sa = [...ba, ...(ta ? [k, m] : [m, k])];
    const sb = [...bb, ...(tb ? [n, k] : [k, n])];
    const a = data(
      sa.reduce((p, q) => p * q, 1),
      11,
    );
    const b = data(
      sb.reduce((p, q) => p * q, 1),
      12,
    );
    const bias = data(n, 13);
    const run = () => {
      const at = tf.tensor(a, sa);
      const bt = tf.tensor(b, sb);
      return [
        tf.matMul(at, bt, ta, tb),
        tf.fused.matMul({
          a: at,
          b: bt,
          transposeA: ta,
          transposeB: tb,
          bias: tf.tensor1d(bias),
          activation: 'relu',
        }),
      ];
    };
    const cpu = await on('cpu', run);
    const before = tf.memory().numTensors;
    const nat = await on('wasm', run);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxRelErr(nat[0]!, cpu[0]!)).toBeLessThan(2e-5);
    expect(maxRelErr(nat[1]!, cpu[1]!)).toBeLessThan(2e-5);
  });

  it.each([
    [[6, 5, 4, 3], [0, 1, 2], false],
    [[64, 28, 28, 32], [0, 1, 2], true],
    [[6, 5, 4, 3], [1, 2], false],
    [[7], [0], false],
  ] as const)('sum of shape %j over %j (keepDims %s)', async (shape, axes, keepDims) => {
    const x = data(
      shape.reduce((p, q) => p * q, 1),
      41,
    );
    const run = () => tf.sum(tf.tensor(x, [...shape]), [...axes], keepDims);
    const cpu = await on('cpu', run);
    const nat = await on('wasm', run);
    expect(maxRelErr(nat[0]!, cpu[0]!)).toBeLessThan(1e-4);
    const shapes = await Promise.all(
      (['wasm', 'cpu'] as const).map(async (b) => {
        await tf.setBackend(b);
        return tf.tidy(() => run().shape);
      }),
    );
    await tf.setBackend('wasm');
    expect(shapes[0]).toEqual(shapes[1]);
  });

  it.each([
    [[64, 28, 28, 32], [32]],
    [[32], [5, 4, 32]],
    [
      [5, 3],
      [1, 3],
    ],
    [
      [5, 3],
      [5, 3],
    ],
    [
      [5, 3],
      [5, 1],
    ],
  ])('add %j + %j', async (sa, sb) => {
    const a = data(
      sa.reduce((p, q) => p * q, 1),
      51,
    );
    const b = data(
      sb.reduce((p, q) => p * q, 1),
      52,
    );
    const run = () => tf.add(tf.tensor(a, sa), tf.tensor(b, sb));
    const cpu = await on('cpu', run);
    const nat = await on('wasm', run);
    expect(maxRelErr(nat[0]!, cpu[0]!)).toBeLessThan(1e-6);
  });

  it('gradients through tf.grads (conv2d, conv2dTranspose, dense) match cpu', async () => {
    const x = data(4 * 12 * 12 * 3, 21);
    const f = data(3 * 3 * 3 * 8, 22);
    const f2 = data(3 * 3 * 2 * 8, 23);
    const wd = data(6 * 6 * 8 * 5, 24);
    const run = () => {
      const xt = tf.tensor4d(x, [4, 12, 12, 3]);
      const loss = (a: tf.Tensor, b: tf.Tensor, b2: tf.Tensor, w: tf.Tensor) => {
        const h = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'));
        const up = tf.conv2dTranspose(h, b2 as tf.Tensor4D, [4, 12, 12, 2], 2, 'same');
        const dense = tf.matMul(tf.reshape(h, [4, -1]), w as tf.Tensor2D);
        return tf.add(tf.sum(tf.sigmoid(up)), tf.sum(tf.square(dense)));
      };
      return tf.grads(loss)([
        xt,
        tf.tensor4d(f, [3, 3, 3, 8]),
        tf.tensor4d(f2, [3, 3, 2, 8]),
        tf.tensor2d(wd, [6 * 6 * 8, 5]),
      ]);
    };
    const cpu = await on('cpu', run);
    const nat = await on('wasm', run);
    for (let i = 0; i < cpu.length; i++) {
      expect(maxRelErr(nat[i]!, cpu[i]!), `grad ${i}`).toBeLessThan(1e-4);
    }
  });

  it('is deterministic for any thread count, and portableKernels() bypasses it', async () => {
    const x = data(16 * 14 * 14 * 16, 31);
    const f = data(3 * 3 * 16 * 32, 32);
    const dy = data(16 * 7 * 7 * 32, 33);
    const run = () => {
      const xt = tf.tensor4d(x, [16, 14, 14, 16]);
      const dyt = tf.tensor4d(dy, [16, 7, 7, 32]);
      const dw = tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: xt, dy: dyt },
          { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 16, 32] },
        ) as tf.Tensor;
      return [tf.conv2d(xt, tf.tensor4d(f, [3, 3, 16, 32]), 2, 'same'), dw];
    };
    const a = await on('wasm', run);
    const b = await on('wasm', run);
    expect(Buffer.from(a[0]!.buffer).equals(Buffer.from(b[0]!.buffer))).toBe(true);
    expect(Buffer.from(a[1]!.buffer).equals(Buffer.from(b[1]!.buffer))).toBe(true);
    // Task boundaries and reduction orders depend on shapes only: any thread count, same bits.
    for (const threads of [1, 3]) {
      registerNativeKernels({ threads });
      const c = await on('wasm', run);
      expect(Buffer.from(c[0]!.buffer).equals(Buffer.from(a[0]!.buffer)), `${threads}`).toBe(true);
      expect(Buffer.from(c[1]!.buffer).equals(Buffer.from(a[1]!.buffer)), `${threads}`).toBe(true);
    }
    registerNativeKernels({ threads: 2 });
    // Portable scope: the wasm kernels, bit-identical to a run without the native ones.
    const portable = await on('wasm', () => portableKernels(run));
    const cpu = await on('cpu', run);
    expect(maxRelErr(portable[0]!, cpu[0]!)).toBeLessThan(2e-5);
    await initWasmBackend({ native: false });
    expect(nativeKernelsActive()).toBe(false);
    const wasmOnly = await on('wasm', run);
    expect(Buffer.from(portable[0]!.buffer).equals(Buffer.from(wasmOnly[0]!.buffer))).toBe(true);
    expect(Buffer.from(portable[1]!.buffer).equals(Buffer.from(wasmOnly[1]!.buffer))).toBe(true);
    expect(registerNativeKernels({ threads: 2 })).toBe(true);
    expect(nativeKernelsActive()).toBe(true);
  });
});

describe.skipIf(!available)('training on wasm with the native kernels', () => {
  it('classifier: model.fit lowers the loss, no leaks, same losses on a rerun', async () => {
    await tf.setBackend('wasm');
    expect(nativeKernelsActive()).toBe(true);
    const train = async () => {
      const { model } = buildClassifier({ imageShape: SHAPE, numClasses: 4, seed: 1 });
      model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
      const { x, y } = batch();
      // shuffle: false: fit shuffles with Math.random, which reorders the batch's loss sum.
      const opts = { batchSize: BATCH, verbose: 0, shuffle: false } as const;
      await model.fit(x, y, { ...opts, epochs: 1 });
      const before = tf.memory().numTensors;
      const hist = await model.fit(x, y, { ...opts, epochs: 6 });
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      model.dispose();
      return hist.history.loss as number[];
    };
    const losses = await train();
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);
    expect(await train()).toEqual(losses);
  });

  it.each(['transpose', 'resize'] as const)(
    'VAE (%s upsampling): BCE + KL with Adam lowers the loss, no leaks',
    (upsampling) => expectVaeTrainingLowersLoss(upsampling),
  );
});
