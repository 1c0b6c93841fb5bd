import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { GeneratorLoss, LatentGaussian, ReconstructionLoss } from '../core/manifest';
import { createRng, type Rng } from '../core/rng';
import type { Dataset } from '../data/idx';
import { chunks, epochBatches, imageBatch } from './batches';
import { trainableVariables } from './classifier';
import { klDivergence, perceptualLoss, reconstructionLoss } from './losses';
import { type OnTrainEvent, silent } from './progress';

export interface TrainVaeOptions {
  network: string;
  loss: GeneratorLoss;
  reconstruction: ReconstructionLoss;
  /** Frozen classifier features (conv1, conv2) for the perceptual loss. */
  features?: tfl.LayersModel | undefined;
  /** Weight of the perceptual term relative to the reconstruction term. */
  perceptualWeight: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  onEvent?: OnTrainEvent | undefined;
}

/** Standard normal noise from the seeded RNG (so training is reproducible). */
function normalNoise(rng: Rng, shape: [number, number]): tf.Tensor2D {
  const v = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor2d(v, shape);
}

/** The VAE objective for one batch: chosen generator loss + KL. */
export function vaeLoss(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  x: tf.Tensor4D,
  eps: tf.Tensor2D,
  opts: Pick<TrainVaeOptions, 'loss' | 'reconstruction' | 'features' | 'perceptualWeight'>,
): tf.Scalar {
  return tf.tidy(() => {
    const [zMean, zLogVar] = encoder.apply(x, { training: true }) as tf.Tensor[];
    const z = tf.add(zMean!, tf.mul(tf.exp(tf.mul(0.5, zLogVar!)), eps));
    const xHat = decoder.apply(z, { training: true }) as tf.Tensor;
    let total = klDivergence(zMean!, zLogVar!);
    if (opts.loss !== 'perceptual')
      total = tf.add(total, reconstructionLoss(opts.reconstruction, x, xHat));
    if (opts.loss !== 'reconstruction') {
      if (!opts.features) throw new Error('perceptual loss needs the classifier features model');
      const fx = opts.features.apply(x) as tf.Tensor[];
      const fxHat = opts.features.apply(xHat) as tf.Tensor[];
      total = tf.add(total, tf.mul(opts.perceptualWeight, perceptualLoss(fx, fxHat)));
    }
    return total as tf.Scalar;
  });
}

/** Train encoder + decoder (only their trainable weights: frozen shared layers stay put). */
export async function trainVae(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  data: Dataset,
  opts: TrainVaeOptions,
): Promise<number> {
  const onEvent = opts.onEvent ?? silent;
  const rng = createRng(opts.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const vars = trainableVariables(encoder, decoder);
  const latent = decoder.inputs[0]!.shape[1]!;
  const batchesPerEpoch = Math.ceil(data.count / opts.batchSize);
  onEvent({
    kind: 'stage-start',
    network: opts.network,
    stage: 'vae',
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
        const eps = normalNoise(rng, [idx.length, latent]);
        const cost = optimizer.minimize(() => vaeLoss(encoder, decoder, x, eps, opts), true, vars);
        const loss = (await cost!.data())[0]!;
        tf.dispose([x, eps, cost!]);
        if (!Number.isFinite(loss)) {
          throw new Error(
            `${opts.network}: VAE loss became ${loss} at epoch ${epoch}, batch ${b + 1}; lower --learning-rate`,
          );
        }
        sum += loss * idx.length;
        seen += idx.length;
        onEvent({
          kind: 'batch',
          network: opts.network,
          stage: 'vae',
          epoch,
          batch: b + 1,
          batchesPerEpoch,
          loss,
          imagesPerSecond: (seen * 1000) / (performance.now() - t0),
        });
      }
      const seconds = (performance.now() - t0) / 1000;
      lastLoss = sum / seen;
      onEvent({
        kind: 'epoch-end',
        network: opts.network,
        stage: 'vae',
        epoch,
        epochs: opts.epochs,
        loss: lastLoss,
        seconds,
        imagesPerSecond: seen / seconds,
      });
    }
  } finally {
    optimizer.dispose();
  }
  return lastLoss;
}

/**
 * Fit one diagonal Gaussian per class to the encoder's codes of the training images: the
 * mean of z_mean, and a std that adds the average posterior variance to the spread of the
 * means. The `class-prior` generator samples from these to honour per-class quotas.
 */
export function fitClassPriors(
  encoder: tfl.LayersModel,
  data: Dataset,
  classes: readonly number[],
  batchSize = 256,
): LatentGaussian[] {
  const latent = (encoder.outputs[0]!.shape[1] as number) ?? 0;
  const k = classes.length;
  const col = new Map(classes.map((c, i) => [c, i]));
  const sum = new Float64Array(k * latent);
  const sumSq = new Float64Array(k * latent);
  const sumVar = new Float64Array(k * latent);
  const count = new Float64Array(k);
  for (const idx of chunks(data.count, batchSize)) {
    const [mean, logVar] = tf.tidy(() => {
      const out = encoder.predict(imageBatch(data, idx)) as tf.Tensor[];
      return [out[0]!, tf.exp(out[1]!)];
    });
    const m = mean!.dataSync();
    const v = logVar!.dataSync();
    tf.dispose([mean!, logVar!]);
    for (let i = 0; i < idx.length; i++) {
      const c = col.get(data.labels[idx[i]!]!);
      if (c === undefined) continue;
      count[c]!++;
      for (let j = 0; j < latent; j++) {
        const a = m[i * latent + j]!;
        sum[c * latent + j]! += a;
        sumSq[c * latent + j]! += a * a;
        sumVar[c * latent + j]! += v[i * latent + j]!;
      }
    }
  }
  return classes.map((classId, c) => {
    const n = Math.max(1, count[c]!);
    const mean = Array.from({ length: latent }, (_, j) => sum[c * latent + j]! / n);
    const std = mean.map((mu, j) => {
      const spread = Math.max(0, sumSq[c * latent + j]! / n - mu * mu);
      return Math.sqrt(spread + sumVar[c * latent + j]! / n) || 1e-3;
    });
    return { classId, mean, std, count: count[c]! };
  });
}
