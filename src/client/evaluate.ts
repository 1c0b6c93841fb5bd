import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../core/manifest';

/** A labelled image set (the shape of src/data's Dataset, which this module does not import). */
export interface LabelledImages {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  imageShape: ImageShape;
}

/** Something that maps a batch of images to scores over `classes` (column k = classes[k]). */
export interface Predictor {
  classes: readonly number[];
  /** [n, H, W, C] in [0, 1] -> [n, classes.length] */
  predict(x: tf.Tensor4D): tf.Tensor2D;
}

export function modelPredictor(model: tfl.LayersModel, classes: readonly number[]): Predictor {
  return { classes, predict: (x) => model.predict(x) as tf.Tensor2D };
}

export interface EnsembleMember {
  model: tfl.LayersModel;
  classes: readonly number[];
}

/**
 * The ensemble baseline. Every member runs on every image; member m's softmax over its own
 * classes is placed into those classes' columns of a score row over the union (columns of
 * classes a member does not know stay 0 for it), and the rows are combined by an
 * element-wise max over members (with disjoint classes this is simply the concatenation of
 * the members' softmax outputs). The prediction is the argmax: the class that some member is
 * most confident about. No calibration or re-weighting: each member's softmax sums to 1
 * over its own classes.
 */
export function ensemblePredictor(members: readonly EnsembleMember[]): Predictor {
  const classes = [...new Set(members.flatMap((m) => m.classes))].sort((a, b) => a - b);
  const u = classes.length;
  // one-hot placement matrix [k, u] per member: column of member class j in the union
  const placements = members.map((m) => {
    const k = m.classes.length;
    const p = new Float32Array(k * u);
    m.classes.forEach((c, j) => {
      p[j * u + classes.indexOf(c)] = 1;
    });
    return { p, k };
  });
  return {
    classes,
    predict: (x) =>
      tf.tidy(() => {
        const rows = members.map((m, i) =>
          tf.matMul(
            m.model.predict(x) as tf.Tensor2D,
            tf.tensor2d(placements[i]!.p, [placements[i]!.k, u]),
          ),
        );
        return rows.reduce((a, b) => tf.maximum(a, b)) as tf.Tensor2D;
      }),
  };
}

export interface Evaluation {
  /** Correct / all test images (images of classes the predictor does not know count as wrong). */
  accuracy: number;
  count: number;
  perClass: { classId: number; accuracy: number; count: number }[];
  /** Labels present in the test set, ascending: rows (true) and columns (predicted) of `confusion`. */
  labels: number[];
  /** confusion[i][j] = test images of labels[i] predicted as labels[j]. */
  confusion: number[][];
  seconds: number;
}

/** Evaluate a predictor on a labelled set: overall, per class, confusion matrix. */
export async function evaluate(
  predictor: Predictor,
  data: LabelledImages,
  opts: { batchSize?: number } = {},
): Promise<Evaluation> {
  const batch = opts.batchSize ?? 500;
  const [h, w, c] = data.imageShape;
  const px = h * w * c;
  const labelSet = new Set<number>();
  for (let i = 0; i < data.count; i++) labelSet.add(data.labels[i]!);
  const labels = [...labelSet].sort((a, b) => a - b);
  const row = new Map(labels.map((l, i) => [l, i]));
  const confusion = labels.map(() => labels.map(() => 0));
  const t0 = performance.now();
  let correct = 0;
  for (let s = 0; s < data.count; s += batch) {
    const n = Math.min(batch, data.count - s);
    const x = new Float32Array(n * px);
    for (let i = 0; i < n * px; i++) x[i] = data.images[s * px + i]! / 255;
    const predT = tf.tidy(() => tf.argMax(predictor.predict(tf.tensor4d(x, [n, h, w, c])), -1));
    const pred = await predT.data();
    predT.dispose();
    for (let i = 0; i < n; i++) {
      const truth = data.labels[s + i]!;
      const guess = predictor.classes[pred[i]!]!;
      if (guess === truth) correct++;
      const col = row.get(guess);
      if (col !== undefined) confusion[row.get(truth)!]![col]!++;
    }
  }
  const perClass = labels.map((classId, i) => {
    const r = confusion[i]!;
    const count = r.reduce((a, b) => a + b, 0);
    return { classId, count, accuracy: count === 0 ? 0 : r[i]! / count };
  });
  return {
    accuracy: data.count === 0 ? 0 : correct / data.count,
    count: data.count,
    perClass,
    labels,
    confusion,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The confusion matrix as fixed-width text (rows: true label, columns: predicted). */
export function formatConfusion(e: Evaluation): string {
  const wdt = Math.max(5, ...e.confusion.flat().map((v) => String(v).length + 1));
  const pad = (s: string | number) => String(s).padStart(wdt);
  const head = `${'true\\pred'.padEnd(9)}${e.labels.map(pad).join('')}`;
  const rows = e.labels.map((l, i) => `${String(l).padEnd(9)}${e.confusion[i]!.map(pad).join('')}`);
  return [head, ...rows].join('\n');
}
