import * as tf from '@tensorflow/tfjs-core';
import { createRng, type Rng } from '../core/rng';
import { epochBatches } from './batches';
import { type OnTrainEvent, silent, type TrainStage } from './progress';

/** One mini-batch: its input tensors (freed after the step) and its loss. */
export interface BatchStep {
  inputs: tf.Tensor[];
  loss: () => tf.Scalar;
}

export interface AdamLoopOptions {
  network: string;
  stage: TrainStage;
  /** Number of training samples; batches are seeded shuffles of 0..count-1. */
  count: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  variables: tf.Variable[];
  /** Build one batch's step; `rng` is the loop's seeded stream (e.g. for VAE noise). */
  batch: (idx: Int32Array, rng: Rng) => BatchStep;
  /** Measured after each epoch and reported with it (e.g. held-out accuracy). */
  afterEpoch?: (() => number | undefined) | undefined;
  /**
   * Early stopping: end training when `afterEpoch`'s value (higher is better) has not improved
   * for this many epochs. Absent: all `epochs` run.
   */
  patience?: number | undefined;
  onEvent?: OnTrainEvent | undefined;
}

/**
 * The training loop every model here uses: Adam over seeded shuffled mini-batches, progress
 * events per batch and per epoch, no tensors left behind. Returns the last epoch's mean loss.
 */
export async function runAdamEpochs(opts: AdamLoopOptions): Promise<number> {
  const onEvent = opts.onEvent ?? silent;
  const { network, stage, epochs } = opts;
  const rng = createRng(opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const batchesPerEpoch = Math.ceil(opts.count / opts.batchSize);
  onEvent({ kind: 'stage-start', network, stage, epochs, batchesPerEpoch });
  let lastLoss = Number.NaN;
  let best = Number.NEGATIVE_INFINITY;
  let sinceBest = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      let sum = 0;
      let seen = 0;
      const batches = epochBatches(opts.count, opts.batchSize, rng);
      for (let b = 0; b < batches.length; b++) {
        const idx = batches[b]!;
        const step = opts.batch(idx, rng);
        const cost = optimizer.minimize(step.loss, true, opts.variables)!;
        const loss = (await cost.data())[0]!;
        tf.dispose([...step.inputs, cost]);
        if (!Number.isFinite(loss)) {
          throw new Error(
            `${network} ${stage}: loss became ${loss} at epoch ${epoch}, batch ${b + 1}; lower --learning-rate`,
          );
        }
        sum += loss * idx.length;
        seen += idx.length;
        const imagesPerSecond = (seen * 1000) / (performance.now() - t0);
        onEvent({
          kind: 'batch',
          network,
          stage,
          epoch,
          batch: b + 1,
          batchesPerEpoch,
          loss,
          imagesPerSecond,
        });
      }
      const seconds = (performance.now() - t0) / 1000;
      lastLoss = sum / seen;
      const accuracy = opts.afterEpoch?.();
      onEvent({
        kind: 'epoch-end',
        network,
        stage,
        epoch,
        epochs,
        loss: lastLoss,
        seconds,
        imagesPerSecond: seen / seconds,
        ...(accuracy === undefined ? {} : { accuracy }),
      });
      if (opts.patience !== undefined && accuracy !== undefined) {
        if (accuracy > best) {
          best = accuracy;
          sinceBest = 0;
        } else if (++sinceBest >= opts.patience) break;
      }
    }
  } finally {
    optimizer.dispose();
  }
  return lastLoss;
}
