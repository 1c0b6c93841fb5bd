import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { createRng } from '../core/rng';
import type { Dataset } from '../data/idx';
import { chunks, epochBatches, imageBatch, oneHotBatch } from './batches';
import { crossEntropy } from './losses';
import { type OnTrainEvent, silent } from './progress';

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
  onEvent?: OnTrainEvent | undefined;
}

export function trainableVariables(...models: tfl.LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

/** Train a softmax classifier with Adam on one-hot targets; returns the final epoch's mean loss. */
export async function trainClassifier(
  model: tfl.LayersModel,
  data: Dataset,
  opts: TrainClassifierOptions,
): Promise<number> {
  const onEvent = opts.onEvent ?? silent;
  const rng = createRng(opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const vars = trainableVariables(model);
  const batchesPerEpoch = Math.ceil(data.count / opts.batchSize);
  onEvent({
    kind: 'stage-start',
    network: opts.network,
    stage: 'classifier',
    epochs: opts.epochs,
    batchesPerEpoch,
  });
  let lastLoss = Number.NaN;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const t0 = performance.now();
      let sum = 0;
      let seen = 0;
      const batches = epochBatches(data.count, opts.batchSize, rng);
      for (let b = 0; b < batches.length; b++) {
        const idx = batches[b]!;
        const x = imageBatch(data, idx);
        const y = oneHotBatch(data, idx, opts.classes);
        const cost = optimizer.minimize(
          () => crossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
          true,
          vars,
        );
        const loss = (await cost!.data())[0]!;
        tf.dispose([x, y, cost!]);
        sum += loss * idx.length;
        seen += idx.length;
        onEvent({
          kind: 'batch',
          network: opts.network,
          stage: 'classifier',
          epoch,
          batch: b + 1,
          batchesPerEpoch,
          loss,
          imagesPerSecond: (seen * 1000) / (performance.now() - t0),
        });
      }
      const seconds = (performance.now() - t0) / 1000;
      lastLoss = sum / seen;
      const accuracy = opts.heldOut
        ? evaluateClassifier(model, opts.heldOut, opts.classes).accuracy
        : undefined;
      onEvent({
        kind: 'epoch-end',
        network: opts.network,
        stage: 'classifier',
        epoch,
        epochs: opts.epochs,
        loss: lastLoss,
        seconds,
        imagesPerSecond: seen / seconds,
        ...(accuracy === undefined ? {} : { accuracy }),
      });
    }
  } finally {
    optimizer.dispose();
  }
  return lastLoss;
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
