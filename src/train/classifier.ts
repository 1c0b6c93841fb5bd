import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/idx';
import { chunks, imageBatch, oneHotBatch } from './batches';
import { runAdamEpochs } from './loop';
import { crossEntropy } from './losses';
import type { OnTrainEvent } from './progress';

export interface TrainClassifierOptions {
  network: string;
  /** Column k of the classifier is classes[k]. */
  classes: readonly number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Measured after each epoch when given. */
  heldOut?: Dataset | undefined;
  /** Stop when accuracy on `heldOut` has not improved for this many epochs. */
  patience?: number | undefined;
  onEvent?: OnTrainEvent | undefined;
}

export function trainableVariables(...models: tfl.LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

/** Train a softmax classifier with Adam on one-hot targets; returns the final epoch's mean loss. */
export function trainClassifier(
  model: tfl.LayersModel,
  data: Dataset,
  opts: TrainClassifierOptions,
): Promise<number> {
  const heldOut = opts.heldOut;
  return runAdamEpochs({
    ...opts,
    stage: 'classifier',
    count: data.count,
    variables: trainableVariables(model),
    batch: (idx) => {
      const x = imageBatch(data, idx);
      const y = oneHotBatch(data, idx, opts.classes);
      return {
        inputs: [x, y],
        loss: () => crossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
      };
    },
    afterEpoch: heldOut && (() => evaluateClassifier(model, heldOut, opts.classes).accuracy),
  });
}

export interface ClassifierEvaluation {
  accuracy: number;
  perClass: { classId: number; accuracy: number; count: number }[];
}

/** Accuracy of `model` (columns = classes) on the samples of `data` whose label is in `classes`. */
export function evaluateClassifier(
  model: tfl.LayersModel,
  data: Dataset,
  classes: readonly number[],
  batchSize = 256,
): ClassifierEvaluation {
  const col = new Map(classes.map((c, k) => [c, k]));
  const correct = new Map<number, number>();
  const total = new Map<number, number>();
  for (const idx of chunks(data.count, batchSize)) {
    const pred = tf.tidy(() => {
      const x = imageBatch(data, idx);
      return tf.argMax(model.predict(x) as tf.Tensor, -1);
    });
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < idx.length; i++) {
      const label = data.labels[idx[i]!]!;
      const k = col.get(label);
      if (k === undefined) continue;
      total.set(label, (total.get(label) ?? 0) + 1);
      if (p[i] === k) correct.set(label, (correct.get(label) ?? 0) + 1);
    }
  }
  let c = 0;
  let t = 0;
  const perClass = classes.map((classId) => {
    const n = total.get(classId) ?? 0;
    const ok = correct.get(classId) ?? 0;
    c += ok;
    t += n;
    return { classId, accuracy: n === 0 ? 0 : ok / n, count: n };
  });
  return { accuracy: t === 0 ? 0 : c / t, perClass };
}
