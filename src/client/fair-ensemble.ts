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
 *  1. temperature scaling: T minimising the negative log-likelihood of its validation slice;
 *  2. a confidence score per image, the energy T * logsumexp(logits / T) (higher: more
 *     like the member's own data), turned into a percentile of the member's own validation
 *     energies, so scores of different members are on one scale.
 * The ensemble's score for class c of member m is percentile_m(x) * softmax(logits_m / T_m)_c;
 * the prediction is the argmax over the union of classes.
 */
export interface CalibratedMember {
  /** Image -> logits over `classes` (the classifier with its softmax taken off). */
  logits: tfl.LayersModel;
  classes: readonly number[];
  temperature: number;
  /** The member's validation energies, ascending (its percentile scale). */
  energies: Float32Array;
}

/** The classifier's logits: its last dense layer without the softmax, sharing the weights. */
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
  const model = tfl.model({ inputs: classifier.inputs, outputs: out });
  linear.setWeights(head.getWeights());
  return model;
}

function batches(data: LabelledImages, size: number): Generator<[Float32Array, number, number]> {
  const [h, w, c] = data.imageShape;
  const px = h * w * c;
  return (function* () {
    for (let s = 0; s < data.count; s += size) {
      const n = Math.min(size, data.count - s);
      const x = new Float32Array(n * px);
      for (let i = 0; i < n * px; i++) x[i] = data.images[s * px + i]! / 255;
      yield [x, s, n];
    }
  })();
}

/** Logits of every image of `data`, row-major [count, k]. */
function allLogits(model: tfl.LayersModel, data: LabelledImages, k: number): Float32Array {
  const out = new Float32Array(data.count * k);
  const [h, w, c] = data.imageShape;
  for (const [x, s, n] of batches(data, 500)) {
    const t = tf.tidy(() => model.predict(tf.tensor4d(x, [n, h, w, c])) as tf.Tensor);
    out.set(t.dataSync(), s * k);
    t.dispose();
  }
  return out;
}

function logSumExp(row: Float32Array, k: number, i: number, t: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < k; j++) m = Math.max(m, row[i * k + j]! / t);
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.exp(row[i * k + j]! / t - m);
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
  const logits = logitsModel(classifier);
  const z = allLogits(logits, validation, k);
  const truth = Array.from(validation.labels.subarray(0, validation.count), (l) => {
    const j = col.get(l);
    if (j === undefined)
      throw new ClientError(`validation label ${l} is not a class of the member`);
    return j;
  });
  const nll = (t: number) => {
    let s = 0;
    for (let i = 0; i < truth.length; i++) s += logSumExp(z, k, i, t) - z[i * k + truth[i]!]! / t;
    return s / truth.length;
  };
  // a log-spaced grid over [0.1, 20], then a finer one around its best point
  const grid = (lo: number, hi: number, steps: number) =>
    Array.from({ length: steps + 1 }, (_, s) => lo * (hi / lo) ** (s / steps));
  let best = 1;
  let bestNll = nll(1);
  for (const t of grid(0.1, 20, 48)) {
    const v = nll(t);
    if (v < bestNll) [best, bestNll] = [t, v];
  }
  for (const t of grid(best * 0.8, best * 1.25, 24)) {
    const v = nll(t);
    if (v < bestNll) [best, bestNll] = [t, v];
  }
  const energies = new Float32Array(truth.length);
  for (let i = 0; i < truth.length; i++) energies[i] = best * logSumExp(z, k, i, best);
  energies.sort();
  return { logits, classes, temperature: best, energies };
}

export function disposeMember(m: CalibratedMember): void {
  // the logits model shares every layer but its head copy with the classifier
  (m.logits.layers.at(-1) as tfl.layers.Layer).dispose();
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
      const scores = new Float32Array(n * u);
      members.forEach((m, mi) => {
        const k = m.classes.length;
        const t = tf.tidy(() => m.logits.predict(x) as tf.Tensor);
        const z = t.dataSync() as Float32Array;
        t.dispose();
        for (let i = 0; i < n; i++) {
          const lse = logSumExp(z, k, i, m.temperature);
          const p = percentile(m.energies, m.temperature * lse);
          for (let j = 0; j < k; j++) {
            const v = p * Math.exp(z[i * k + j]! / m.temperature - lse);
            const o = i * u + cols[mi]![j]!;
            if (v > scores[o]!) scores[o] = v;
          }
        }
      });
      return tf.tensor2d(scores, [n, u]);
    },
  };
}
