import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng';
import { permutation } from '../core/rng';
import type { Dataset } from '../data/idx';

/** Pixels per image. */
export function pixelsOf(ds: Pick<Dataset, 'imageShape'>): number {
  return ds.imageShape[0] * ds.imageShape[1] * ds.imageShape[2];
}

/** Images `idx` of a dataset as a float tensor [n, H, W, C] in [0, 1]. */
export function imageBatch(ds: Dataset, idx: ArrayLike<number>): tf.Tensor4D {
  const px = pixelsOf(ds);
  const out = new Float32Array(idx.length * px);
  for (let i = 0; i < idx.length; i++) {
    const src = idx[i]! * px;
    const dst = i * px;
    for (let j = 0; j < px; j++) out[dst + j] = ds.images[src + j]! / 255;
  }
  const [h, w, c] = ds.imageShape;
  return tf.tensor4d(out, [idx.length, h, w, c]);
}

/** One-hot labels over `classes` (column k = classes[k]) for samples `idx`. */
export function oneHotBatch(
  ds: Dataset,
  idx: ArrayLike<number>,
  classes: readonly number[],
): tf.Tensor2D {
  const col = new Map(classes.map((c, k) => [c, k]));
  const out = new Float32Array(idx.length * classes.length);
  for (let i = 0; i < idx.length; i++) {
    const label = ds.labels[idx[i]!]!;
    const k = col.get(label);
    if (k === undefined)
      throw new Error(`label ${label} is not among the network's classes ${classes.join(',')}`);
    out[i * classes.length + k] = 1;
  }
  return tf.tensor2d(out, [idx.length, classes.length]);
}

/** Shuffled mini-batches of sample indices for one epoch (the last one may be short). */
export function epochBatches(count: number, batchSize: number, rng: Rng): Int32Array[] {
  const order = permutation(count, rng);
  const out: Int32Array[] = [];
  for (let s = 0; s < count; s += batchSize)
    out.push(order.subarray(s, Math.min(count, s + batchSize)));
  return out;
}

/** Indices 0..n-1 in chunks, for evaluation. */
export function* chunks(count: number, size: number): Generator<Int32Array> {
  for (let s = 0; s < count; s += size) {
    const n = Math.min(size, count - s);
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = s + i;
    yield idx;
  }
}
