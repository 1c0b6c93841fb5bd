import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../manifest';
import {
  CALIBRATION_FORMAT_VERSION,
  type Calibration,
  float32ToBase64,
  MAX_CALIBRATION_SCORES,
} from './schema';
import { logitsModel, logSumExp, mahalanobisScores } from './score';

/** Labelled uint8 images, [count, H, W, C] row-major (labels are class ids). */
export interface CalibrationImages {
  images: Uint8Array;
  labels: ArrayLike<number>;
  count: number;
  imageShape: ImageShape;
}

/** Images start .. start + n of a set as an [n, H, W, C] tensor in [0, 1]. */
export function imagesTensor(
  data: Pick<CalibrationImages, 'images' | 'imageShape'>,
  start: number,
  n: number,
): tf.Tensor4D {
  const [h, w, c] = data.imageShape;
  const px = h * w * c;
  return tf.tidy(() =>
    tf.div(
      tf.tensor4d(data.images.subarray(start * px, (start + n) * px), [n, h, w, c], 'int32'),
      255,
    ),
  );
}

/** Gauss-Jordan inverse of a symmetric positive definite [d, d] matrix (row-major). */
function invert(m: Float64Array, d: number): Float32Array {
  const a = new Float64Array(d * 2 * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) a[i * 2 * d + j] = m[i * d + j]!;
    a[i * 2 * d + d + i] = 1;
  }
  for (let i = 0; i < d; i++) {
    let p = i;
    for (let r = i + 1; r < d; r++)
      if (Math.abs(a[r * 2 * d + i]!) > Math.abs(a[p * 2 * d + i]!)) p = r;
    if (p !== i) {
      for (let j = 0; j < 2 * d; j++) {
        const t = a[i * 2 * d + j]!;
        a[i * 2 * d + j] = a[p * 2 * d + j]!;
        a[p * 2 * d + j] = t;
      }
    }
    const v = a[i * 2 * d + i]!;
    for (let j = 0; j < 2 * d; j++) a[i * 2 * d + j]! /= v;
    for (let r = 0; r < d; r++) {
      const f = a[r * 2 * d + i]!;
      if (r === i || f === 0) continue;
      for (let j = 0; j < 2 * d; j++) a[r * 2 * d + j]! -= f * a[i * 2 * d + j]!;
    }
  }
  const out = new Float32Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] = a[i * 2 * d + d + j]!;
  return out;
}

/** At most `max` evenly spaced order statistics of ascending `sorted` (all when fewer). */
function orderStatistics(sorted: Float32Array, max: number): number[] {
  if (sorted.length <= max) return Array.from(sorted);
  return Array.from(
    { length: max },
    (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (max - 1))]!,
  );
}

/**
 * Fit a network's calibration on a held-out slice of its OWN images (only its own classes;
 * labels are class ids):
 *  1. its penultimate features give one mean per class and a shared covariance (with a ridge
 *     relative to each variance); an image's score is minus its smallest Mahalanobis distance
 *     to those means, and the sorted validation scores are the percentile scale;
 *  2. temperature scaling: T minimising the validation negative log-likelihood (a log-spaced
 *     grid over [0.1, 20], then a finer one around its best point).
 * The caller owns `classifier`; nothing else outlives the call.
 */
export function fitCalibration(
  classifier: tfl.LayersModel,
  classes: readonly number[],
  validation: CalibrationImages,
): Calibration {
  if (validation.count === 0) {
    throw new Error("a calibration needs the network's validation slice; it is empty");
  }
  const k = classes.length;
  const col = new Map(classes.map((c, i) => [c, i]));
  const truth = Array.from({ length: validation.count }, (_, i) => {
    const l = validation.labels[i]!;
    const j = col.get(l);
    if (j === undefined) throw new Error(`validation label ${l} is not a class of the network`);
    return j;
  });
  const heads = logitsModel(classifier);
  try {
    const n = validation.count;
    const feats: Float32Array[] = [];
    const z = new Float32Array(n * k);
    for (let s = 0; s < n; s += 500) {
      const m = Math.min(500, n - s);
      const x = imagesTensor(validation, s, m);
      const [f, l] = heads.predict(x) as tf.Tensor[];
      feats.push(f!.dataSync() as Float32Array);
      z.set(l!.dataSync(), s * k);
      tf.dispose([x, f!, l!]);
    }
    const d = feats[0]!.length / Math.min(500, n);
    const all = new Float32Array(n * d);
    let o = 0;
    for (const f of feats) {
      all.set(f, o);
      o += f.length;
    }
    const mean = new Float64Array(k * d);
    const count = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      count[truth[i]!]!++;
      for (let q = 0; q < d; q++) mean[truth[i]! * d + q]! += all[i * d + q]!;
    }
    for (let c = 0; c < k; c++)
      for (let q = 0; q < d; q++) mean[c * d + q]! /= Math.max(1, count[c]!);
    const cov = new Float64Array(d * d);
    const delta = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let q = 0; q < d; q++) delta[q] = all[i * d + q]! - mean[truth[i]! * d + q]!;
      for (let a = 0; a < d; a++) {
        const da = delta[a]!;
        if (da === 0) continue;
        for (let b = 0; b < d; b++) cov[a * d + b]! += (da * delta[b]!) / n;
      }
    }
    for (let a = 0; a < d; a++) cov[a * d + a]! += 1e-3 * (1 + cov[a * d + a]!);
    const means = Float32Array.from(mean);
    const precision = invert(cov, d);
    const scoresT = tf.tidy(() =>
      mahalanobisScores(
        tf.tensor2d(all, [n, d]),
        tf.tensor2d(means, [k, d]),
        tf.tensor2d(precision, [d, d]),
      ),
    );
    const scores = (scoresT.dataSync() as Float32Array).slice().sort();
    scoresT.dispose();
    const nll = (t: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += logSumExp(z, k, i, t) - z[i * k + truth[i]!]! / t;
      return s / n;
    };
    const grid = (lo: number, hi: number, steps: number) =>
      Array.from({ length: steps + 1 }, (_, s) => lo * (hi / lo) ** (s / steps));
    let temperature = 1;
    let bestNll = nll(1);
    for (const t of grid(0.1, 20, 48)) {
      const v = nll(t);
      if (v < bestNll) [temperature, bestNll] = [t, v];
    }
    for (const t of grid(temperature * 0.8, temperature * 1.25, 24)) {
      const v = nll(t);
      if (v < bestNll) [temperature, bestNll] = [t, v];
    }
    return {
      formatVersion: CALIBRATION_FORMAT_VERSION,
      classes: [...classes],
      featureSize: d,
      temperature,
      means: float32ToBase64(means),
      precision: float32ToBase64(precision),
      scores: orderStatistics(scores, MAX_CALIBRATION_SCORES),
      validationCount: n,
    };
  } finally {
    (heads.layers.at(-1) as tfl.layers.Layer).dispose();
  }
}
