import { createRng, permutation } from '../core/rng';
import type { Dataset } from './idx';

/** The samples of `ds` at `indices`, in that order. */
export function pickSamples(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const px = ds.imageShape[0] * ds.imageShape[1] * ds.imageShape[2];
  const n = indices.length;
  const images = new Uint8Array(n * px);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const src = indices[i]!;
    images.set(ds.images.subarray(src * px, (src + 1) * px), i * px);
    labels[i] = ds.labels[src]!;
  }
  return { ...ds, images, labels, count: n };
}

/**
 * At most `max` samples of `ds`, drawn by a seeded permutation and kept in their original
 * order. The one subsample of the project: a network's training images and the joint
 * baseline's copy of them come from here, so both see the same images.
 */
export function subsample(ds: Dataset, max: number | undefined, seed: number): Dataset {
  if (max === undefined || ds.count <= max) return ds;
  const idx = Array.from(permutation(ds.count, createRng(seed)).subarray(0, max)).sort(
    (a, b) => a - b,
  );
  return pickSamples(ds, idx);
}

/**
 * Split off a seeded validation slice: `fraction` of the samples (at least one per sample set
 * when fraction > 0), the rest for training; both keep the original order.
 */
export function splitValidation(
  ds: Dataset,
  fraction: number,
  seed: number,
): { train: Dataset; validation: Dataset } {
  if (!(fraction > 0))
    return {
      train: ds,
      validation: { ...ds, count: 0, images: new Uint8Array(0), labels: new Uint8Array(0) },
    };
  if (fraction >= 1) throw new RangeError(`validation fraction ${fraction}: want 0 <= f < 1`);
  const order = permutation(ds.count, createRng(seed));
  const n = Math.max(1, Math.round(ds.count * fraction));
  const sorted = (a: Uint32Array | Int32Array | number[]) => Array.from(a).sort((x, y) => x - y);
  return {
    validation: pickSamples(ds, sorted(order.subarray(0, n))),
    train: pickSamples(ds, sorted(order.subarray(n))),
  };
}

/** Concatenate datasets of one image shape. */
export function concatDatasets(parts: readonly Dataset[]): Dataset {
  const first = parts[0];
  if (!first) throw new RangeError('concatDatasets: nothing to concatenate');
  const px = first.imageShape[0] * first.imageShape[1] * first.imageShape[2];
  const count = parts.reduce((a, p) => a + p.count, 0);
  const images = new Uint8Array(count * px);
  const labels = new Uint8Array(count);
  let o = 0;
  for (const p of parts) {
    images.set(p.images.subarray(0, p.count * px), o * px);
    labels.set(p.labels.subarray(0, p.count), o);
    o += p.count;
  }
  return { ...first, images, labels, count };
}
