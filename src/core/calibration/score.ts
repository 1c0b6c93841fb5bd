import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { base64ToFloat32, type Calibration } from './schema';

/**
 * Scoring with a calibration (`calibration.json`, see schema.ts). For an image x, a member
 * (one network) answers
 *  - score: the percentile, among its own validation images, of minus x's smallest
 *    Mahalanobis distance to its class means in its penultimate features (how much x looks
 *    like the member's own data, on a scale shared by all members);
 *  - probabilities: softmax(logits / T) over its own classes.
 * The fair ensemble of several members gives class c of member m the value
 * score_m(x) * probability_m(x)_c and answers the largest (`combineAnswers`).
 */

/**
 * The classifier's penultimate features and its logits (its last dense layer without the
 * softmax, sharing the weights), as one two-output model.
 */
export function logitsModel(classifier: tfl.LayersModel): tfl.LayersModel {
  const head = classifier.layers.at(-1) as tfl.layers.Layer;
  const config = head.getConfig() as { activation?: string; units?: number };
  if (config.activation !== 'softmax' || typeof config.units !== 'number') {
    throw new Error(`classifier's last layer ${head.name} is not a softmax dense layer`);
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

/** log sum_j exp(z[i, j] / t) over the k columns of row i. */
export function logSumExp(z: Float32Array, k: number, i: number, t: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < k; j++) m = Math.max(m, z[i * k + j]! / t);
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.exp(z[i * k + j]! / t - m);
  return m + Math.log(s);
}

/** Fraction of `sorted` below `v` (binary search), kept off 0 and 1. */
export function percentile(sorted: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return (lo + 0.5) / (sorted.length + 1);
}

/** A classifier with its calibration, ready to score images. Dispose with `dispose()`. */
export interface CalibratedScorer {
  classes: readonly number[];
  /** Image -> [penultimate features, logits] (the classifier's own layers, shared). */
  heads: tfl.LayersModel;
  temperature: number;
  /** [k, d] class means of the validation features. */
  means: tf.Tensor2D;
  /** [d, d] inverse of the shared covariance. */
  precision: tf.Tensor2D;
  /** The validation scores, ascending (the percentile scale). */
  scores: Float32Array;
  /** Frees the tensors and the logits head (the caller still owns the classifier). */
  dispose(): void;
}

export function createScorer(
  classifier: tfl.LayersModel,
  calibration: Calibration,
): CalibratedScorer {
  const k = calibration.classes.length;
  const d = calibration.featureSize;
  const heads = logitsModel(classifier);
  const featureShape = (heads.outputs[0]!.shape as number[]).at(-1);
  if (featureShape !== d || (heads.outputs[1]!.shape as number[]).at(-1) !== k) {
    (heads.layers.at(-1) as tfl.layers.Layer).dispose();
    throw new Error(
      `the calibration is for ${d} features and ${k} classes, the classifier has ${featureShape} features: it belongs to another classifier`,
    );
  }
  const means = tf.tensor2d(base64ToFloat32(calibration.means), [k, d]);
  const precision = tf.tensor2d(base64ToFloat32(calibration.precision), [d, d]);
  return {
    classes: calibration.classes,
    heads,
    temperature: calibration.temperature,
    means,
    precision,
    scores: Float32Array.from(calibration.scores),
    dispose: () => {
      // the two-output model shares every layer but its head copy with the classifier
      (heads.layers.at(-1) as tfl.layers.Layer).dispose();
      tf.dispose([means, precision]);
    },
  };
}

/** One member's answer about n images. */
export interface MemberAnswer {
  /** [n] percentile of each image's score among the member's validation scores. */
  score: Float32Array;
  /** [n, k] softmax(logits / T) over the member's classes. */
  probabilities: Float32Array;
}

/** What `scorer` says of images x ([n, H, W, C] in [0, 1]); no tensor outlives the call. */
export function scoreImages(scorer: CalibratedScorer, x: tf.Tensor4D): MemberAnswer {
  const n = x.shape[0];
  const k = scorer.classes.length;
  const [scoreT, logitT] = tf.tidy(() => {
    const [f, l] = scorer.heads.predict(x) as tf.Tensor[];
    return [mahalanobisScores(f as tf.Tensor2D, scorer.means, scorer.precision), l!];
  });
  const raw = scoreT!.dataSync();
  const z = logitT!.dataSync() as Float32Array;
  tf.dispose([scoreT!, logitT!]);
  const score = new Float32Array(n);
  const probabilities = new Float32Array(n * k);
  const t = scorer.temperature;
  for (let i = 0; i < n; i++) {
    score[i] = percentile(scorer.scores, raw[i]!);
    const lse = logSumExp(z, k, i, t);
    for (let j = 0; j < k; j++) probabilities[i * k + j] = Math.exp(z[i * k + j]! / t - lse);
  }
  return { score, probabilities };
}

/**
 * The fair ensemble over n images: for each class of the union (ascending), the largest
 * score_m x probability_m over the members m that know it. Rows are not normalised.
 */
export function combineAnswers(
  members: readonly { classes: readonly number[]; answer: MemberAnswer }[],
  n: number,
): { classes: number[]; values: Float32Array } {
  const classes = [...new Set(members.flatMap((m) => m.classes))].sort((a, b) => a - b);
  const u = classes.length;
  const values = new Float32Array(n * u);
  for (const m of members) {
    const k = m.classes.length;
    const cols = m.classes.map((c) => classes.indexOf(c));
    for (let i = 0; i < n; i++) {
      const p = m.answer.score[i]!;
      for (let j = 0; j < k; j++) {
        const v = p * m.answer.probabilities[i * k + j]!;
        const o = i * u + cols[j]!;
        if (v > values[o]!) values[o] = v;
      }
    }
  }
  return { classes, values };
}
