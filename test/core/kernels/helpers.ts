import '@tensorflow/tfjs-backend-cpu';
// tfjs-layers registers tfjs-core's gradients (the core node bundle alone does not).
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from '../../../src/node/wasm-backend';

export async function setup(): Promise<void> {
  // native: false: these tests check the wasm kernels the Worker ships (test/node has the native ones).
  await initWasmBackend({ threads: 1, native: false });
}

/** Deterministic pseudo-random data in [-1, 1). */
export function data(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Runs `f` on a backend and returns its outputs as plain arrays (no tensors left behind). */
export async function on(
  backend: 'cpu' | 'wasm',
  f: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  const res = list.map((t) => t.dataSync() as Float32Array);
  for (const t of list) t.dispose();
  await tf.setBackend('wasm');
  return res;
}

export function maxRelErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let scale = 1e-6;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let i = 0; i < a.length; i++)
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
  return err / scale;
}

export type Pad = 'same' | 'valid';
/** One convolution shape to check: batch, size, channels in/out, kernel, stride, dilation, padding. */
export interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  d: number;
  pad: Pad;
}

/**
 * The conv shapes every kernel test covers: strides 1-2 x paddings x odd/even sizes x 1 or
 * several channels, plus an even kernel, a stride larger than the kernel and stride 3.
 */
export function convCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  for (const s of [1, 2]) {
    for (const pad of ['same', 'valid'] as Pad[]) {
      for (const [h, w] of [
        [7, 7],
        [8, 6],
      ] as const) {
        for (const [ci, co] of [
          [1, 3],
          [4, 5],
        ] as const) {
          cases.push({ n: s === 1 ? 1 : 3, h, w, ci, co, k: 3, s, d: 1, pad });
        }
      }
    }
  }
  cases.push({ n: 2, h: 9, w: 10, ci: 2, co: 3, k: 2, s: 2, d: 1, pad: 'same' });
  cases.push({ n: 2, h: 9, w: 9, ci: 2, co: 2, k: 1, s: 2, d: 1, pad: 'valid' });
  cases.push({ n: 1, h: 11, w: 10, ci: 3, co: 2, k: 5, s: 3, d: 1, pad: 'same' });
  return cases;
}

type Shape4 = [number, number, number, number];

/**
 * A case's seeded input, filter and output gradient, with their shapes, and its two backprop
 * kernels run through the engine (called inside `on()`, on the backend under test).
 */
export function convCaseData(c: ConvCase) {
  const xShape: Shape4 = [c.n, c.h, c.w, c.ci];
  const fShape: Shape4 = [c.k, c.k, c.ci, c.co];
  const yShape = tf.tidy(
    () =>
      tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D, c.s, c.pad).shape,
  );
  const x = data(c.n * c.h * c.w * c.ci, 1);
  const f = data(c.k * c.k * c.ci * c.co, 2);
  const dy = data(
    yShape.reduce((p, q) => p * q, 1),
    3,
  );
  const backprop = (xt: tf.Tensor, ft: tf.Tensor, dyt: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    const attrs = { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC' };
    const dw = tf
      .engine()
      .runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { ...attrs, filterShape: fShape });
    const dx = tf
      .engine()
      .runKernel('Conv2DBackpropInput', { dy: dyt, filter: ft }, { ...attrs, inputShape: xShape });
    return [dw as tf.Tensor, dx as tf.Tensor];
  };
  return { xShape, fShape, yShape, x, f, dy, backprop };
}
