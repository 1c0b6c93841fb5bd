import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ClientError } from './errors';
import type { LabelledImages, Predictor } from './evaluate';

/**
 * A fair ensemble of classifiers trained on disjoint classes. The naive ensemble
 * (`ensemblePredictor`) takes the element-wise max of the members' softmax outputs, but a
 * member that never saw an image's class still gives it a saturated softmax, so the max
 * often picks the wrong member. Here each member is calibrated on a held-out slice of its
 * OWN data only (no member sees another's data):
 *  1. its penultimate features of its validation images give one mean per class and a
 *     shared covariance; an image's score is minus its smallest Mahalanobis distance to
 *     those means (how much the image looks like the member's own data);
 *  2. the score becomes a percentile of the member's own validation scores, so scores of
 *     different members are on one scale;
 *  3. temperature scaling (T minimising the validation negative log-likelihood) calibrates
 *     the member's probabilities over its own classes.
 * The ensemble's score for class c of member m is percentile_m(x) * softmax(logits_m / T_m)_c;
 * the prediction is the argmax over the union of classes.
 */
export interface CalibratedMember {
  /** Image -> [penultimate features, logits] (the classifier's own layers, shared). */
  heads: tfl.LayersModel;
  classes: readonly number[];
  temperature: number;
  /** [k, d] class means of the validation features. */
  means: tf.Tensor2D;
  /** [d, d] inverse of the shared covariance (with a small ridge). */
  precision: tf.Tensor2D;
  /** The member's validation scores, ascending (its percentile scale). */
  scores: Float32Array;
}

/**
 * The classifier's penultimate features and its logits (its last dense layer without the
 * softmax, sharing the weights), as one two-output model.
 */
export function logitsModel(classifier: tfl.LayersModel): tfl.LayersModel {
  const head = classifier.layers.at(-1) as tfl.layers.Layer;
  const config = head.getConfig() as { activation?: string; units?: number };
  if (config.activation !== 'softmax' || typeof config.units !== 'number') {
    throw new ClientError(`classifier's last layer ${head.name} is not a softmax dense layer`);
  }
  const features = head.input as tfl.SymbolicTensor;
  const linear = tfl.layers.dense({
    units: config.units,
    activation: 'linear',
    name: `${head.name}_logits`,
  });
  const out = linear.apply(features) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: classifier.inputs, outputs: [features, out] });
  linear.setWeights(head.getWeights());
  return model;
}

/** Images start .. start + n of a set as an [n, H, W, C] tensor in [0, 1]. */
export function imagesTensor(
  data: Pick<LabelledImages, 'images' | 'imageShape'>,
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

/** Scores (minus the smallest Mahalanobis distance to a class mean) of features [n, d]. */
export function mahalanobisScores(
  f: tf.Tensor2D,
  means: tf.Tensor2D,
  precision: tf.Tensor2D,
): tf.Tensor1D {
  return tf.tidy(() => {
    const k = means.shape[0];
    const dists = Array.from({ length: k }, (_, c) => {
      const delta = tf.sub(f, tf.slice(means, [c, 0], [1, -1]));
      return tf.sum(tf.mul(tf.matMul(delta, precision), delta), 1);
    });
    return tf.neg(tf.min(tf.stack(dists, 1), 1)) as tf.Tensor1D;
  });
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

function logSumExp(z: Float32Array, k: number, i: number, t: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < k; j++) m = Math.max(m, z[i * k + j]! / t);
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.exp(z[i * k + j]! / t - m);
  return m + Math.log(s);
}

/**
 * Calibrate one member on its own validation slice (images of its own classes only; labels
 * are class ids). The caller owns `classifier`; dispose the member with `disposeMember`.
 */
export function calibrateMember(
  classifier: tfl.LayersModel,
  classes: readonly number[],
  validation: LabelledImages,
): CalibratedMember {
  if (validation.count === 0) {
    throw new ClientError("a fair ensemble needs each member's validation slice; it is empty");
  }
  const k = classes.length;
  const col = new Map(classes.map((c, i) => [c, i]));
  const truth = Array.from(validation.labels.subarray(0, validation.count), (l) => {
    const j = col.get(l);
    if (j === undefined) {
      throw new ClientError(`validation label ${l} is not a class of the member`);
    }
    return j;
  });
  const heads = logitsModel(classifier);
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
  // class means and the shared covariance, with a ridge relative to each variance
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
  const means = tf.tensor2d(Float32Array.from(mean), [k, d]);
  const precision = tf.tensor2d(invert(cov, d), [d, d]);
  const scoresT = tf.tidy(() => mahalanobisScores(tf.tensor2d(all, [n, d]), means, precision));
  const scores = (scoresT.dataSync() as Float32Array).slice().sort();
  scoresT.dispose();
  // temperature: a log-spaced grid over [0.1, 20], then a finer one around its best point
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
  return { heads, classes, temperature, means, precision, scores };
}

export function disposeMember(m: CalibratedMember): void {
  // the two-output model shares every layer but its head copy with the classifier
  (m.heads.layers.at(-1) as tfl.layers.Layer).dispose();
  tf.dispose([m.means, m.precision]);
}

/** Fraction of `sorted` below `v` (binary search). */
function percentile(sorted: Float32Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return (lo + 0.5) / (sorted.length + 1);
}

export function fairEnsemblePredictor(members: readonly CalibratedMember[]): Predictor {
  const classes = [...new Set(members.flatMap((m) => m.classes))].sort((a, b) => a - b);
  const u = classes.length;
  const cols = members.map((m) => m.classes.map((c) => classes.indexOf(c)));
  return {
    classes,
    predict: (x) => {
      const n = x.shape[0];
      const out = new Float32Array(n * u);
      members.forEach((m, mi) => {
        const k = m.classes.length;
        const [scoreT, logitT] = tf.tidy(() => {
          const [f, l] = m.heads.predict(x) as tf.Tensor[];
          return [mahalanobisScores(f as tf.Tensor2D, m.means, m.precision), l!];
        });
        const score = scoreT!.dataSync();
        const z = logitT!.dataSync() as Float32Array;
        tf.dispose([scoreT!, logitT!]);
        for (let i = 0; i < n; i++) {
          const p = percentile(m.scores, score[i]!);
          const lse = logSumExp(z, k, i, m.temperature);
          for (let j = 0; j < k; j++) {
            const v = p * Math.exp(z[i * k + j]! / m.temperature - lse);
            const o = i * u + cols[mi]![j]!;
            if (v > out[o]!) out[o] = v;
          }
        }
      });
      return tf.tensor2d(out, [n, u]);
    },
  };
}
