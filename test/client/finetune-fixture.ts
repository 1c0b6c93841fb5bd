import type { MergedSet } from '../../src/client';
import { buildClassifier } from '../../src/core/models';
import { createRng } from '../../src/core/rng';
import type { Dataset } from '../../src/data/idx';

/** The fine-tuning tests' classes, layer sizes and data helpers (finetune*.test.ts). */
export const A = [0, 1, 2];
export const B = [3, 4, 5];
export const ARCH = {
  classifierFilters: [8, 8, 16, 16],
  encoderFilters: [4, 8, 8, 8],
  decoderFilters: [8, 4, 4, 4],
  denseUnits: 32,
  upsampling: 'transpose' as const,
};

/** A fresh classifier over A's classes with the test's small layer sizes. */
export function classifierOfA(seed: number) {
  return buildClassifier({
    imageShape: [28, 28, 1],
    numClasses: A.length,
    filters: ARCH.classifierFilters,
    denseUnits: ARCH.denseUnits,
    seed,
  });
}

/** Draws real images of `classes` with smoothed one-hot soft labels: a stand-in for a perfect generator. */
export function sampler(ds: Dataset, classes: number[], smooth = 0.05) {
  const px = 28 * 28;
  return (count: number, seed: number) => {
    const rng = createRng(seed);
    const images = new Uint8Array(count * px);
    const softLabels = new Float32Array(count * classes.length);
    for (let i = 0; i < count; i++) {
      const j = rng.int(ds.count);
      images.set(ds.images.subarray(j * px, (j + 1) * px), i * px);
      const col = classes.indexOf(ds.labels[j]!);
      for (let c = 0; c < classes.length; c++)
        softLabels[i * classes.length + c] = c === col ? 1 - smooth : smooth / (classes.length - 1);
    }
    return { images, softLabels };
  };
}

/** The first `n` images of `ds` with one-hot targets over `classes`. */
export function oneHotSet(ds: Dataset, classes: number[], n: number): MergedSet {
  const px = 28 * 28;
  const count = Math.min(n, ds.count);
  const targets = new Float32Array(count * classes.length);
  for (let i = 0; i < count; i++) targets[i * classes.length + classes.indexOf(ds.labels[i]!)] = 1;
  return {
    classes,
    imageShape: [28, 28, 1],
    count,
    images: ds.images.subarray(0, count * px),
    targets,
    sources: [],
  };
}
