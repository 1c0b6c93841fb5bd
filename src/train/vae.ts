import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { GeneratorLoss, ReconstructionLoss } from '../core/manifest';
import type { Rng } from '../core/rng';
import type { Dataset } from '../data/idx';
import { imageBatch } from './batches';
import { trainableVariables } from './classifier';
import { runAdamEpochs } from './loop';
import { klDivergence, perceptualLoss, reconstructionLoss } from './losses';
import type { OnTrainEvent, TrainStage } from './progress';

export interface TrainVaeOptions {
  network: string;
  loss: GeneratorLoss;
  reconstruction: ReconstructionLoss;
  /** Frozen classifier features (conv1, conv2) for the perceptual loss. */
  features?: tfl.LayersModel | undefined;
  /** Weight of the perceptual term relative to the reconstruction term. */
  perceptualWeight: number;
  /**
   * Weight of the KL term (beta; 1 = the plain VAE). Below 1 the codes carry more of each
   * image, so reconstructions and class-prior samples are sharper.
   */
  klWeight?: number | undefined;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  onEvent?: OnTrainEvent | undefined;
}

/** Standard normal noise from the seeded RNG (so training is reproducible). */
export function normalNoise(rng: Rng, shape: [number, number]): tf.Tensor2D {
  const v = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor2d(v, shape);
}

/** The VAE's pass over a batch: the codes' distribution and a reconstruction. */
export interface VaePass {
  zMean: tf.Tensor;
  zLogVar: tf.Tensor;
  xHat: tf.Tensor;
}

/** The VAE's pass over a batch `x`, its reconstruction drawn with the noise `eps`. */
export function reconstruct(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  x: tf.Tensor4D,
  eps: tf.Tensor2D,
): VaePass {
  const [zMean, zLogVar] = encoder.apply(x, { training: true }) as tf.Tensor[];
  const z = tf.add(zMean!, tf.mul(tf.exp(tf.mul(0.5, zLogVar!)), eps));
  return {
    zMean: zMean!,
    zLogVar: zLogVar!,
    xHat: decoder.apply(z, { training: true }) as tf.Tensor,
  };
}

/** The VAE objective for one batch: chosen generator loss + KL. */
export function vaeLoss(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  x: tf.Tensor4D,
  eps: tf.Tensor2D,
  opts: Pick<
    TrainVaeOptions,
    'loss' | 'reconstruction' | 'features' | 'perceptualWeight' | 'klWeight'
  >,
  /** A further term of the pass (e.g. the adversarial stage's critic on the reconstructions). */
  extraTerm?: (pass: VaePass) => tf.Scalar,
): tf.Scalar {
  return tf.tidy(() => {
    const pass = reconstruct(encoder, decoder, x, eps);
    const { zMean, zLogVar, xHat } = pass;
    let total: tf.Tensor = tf.mul(opts.klWeight ?? 1, klDivergence(zMean, zLogVar));
    if (opts.loss !== 'perceptual')
      total = tf.add(total, reconstructionLoss(opts.reconstruction, x, xHat));
    if (opts.loss !== 'reconstruction') {
      if (!opts.features) throw new Error('perceptual loss needs the classifier features model');
      const fx = opts.features.apply(x) as tf.Tensor[];
      const fxHat = opts.features.apply(xHat) as tf.Tensor[];
      total = tf.add(total, tf.mul(opts.perceptualWeight, perceptualLoss(fx, fxHat)));
    }
    if (extraTerm) total = tf.add(total, extraTerm(pass));
    return total as tf.Scalar;
  });
}

/** One batch of VAE training: its images, their noise and their sample indices in the data. */
export interface VaeBatch {
  x: tf.Tensor4D;
  eps: tf.Tensor2D;
  idx: Int32Array;
}

/** What a stage of VAE training adds to the plain one (the adversarial stage's critic). */
export interface VaeStageHooks {
  stage: TrainStage;
  /** Runs before each batch's VAE step. */
  beforeStep?: (batch: VaeBatch) => void;
  /** A further term of the loss, on the batch's pass (codes and reconstructions). */
  extraTerm?: (pass: VaePass, batch: VaeBatch) => tf.Scalar;
}

/** Epochs of VAE training over `data`: the plain VAE's, or a stage's with its hooks. */
export function runVaeEpochs(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  data: Dataset,
  opts: TrainVaeOptions,
  hooks: VaeStageHooks = { stage: 'vae' },
): Promise<number> {
  const latent = decoder.inputs[0]!.shape[1]!;
  return runAdamEpochs({
    ...opts,
    stage: hooks.stage,
    count: data.count,
    variables: trainableVariables(encoder, decoder),
    batch: (idx, rng) => {
      const x = imageBatch(data, idx);
      const eps = normalNoise(rng, [idx.length, latent]);
      const b: VaeBatch = { x, eps, idx };
      hooks.beforeStep?.(b);
      const extra = hooks.extraTerm;
      return {
        inputs: [x, eps],
        loss: () => vaeLoss(encoder, decoder, x, eps, opts, extra && ((pass) => extra(pass, b))),
      };
    },
  });
}

/** Train encoder + decoder (only their trainable weights: frozen shared layers stay put). */
export function trainVae(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  data: Dataset,
  opts: TrainVaeOptions,
): Promise<number> {
  return runVaeEpochs(encoder, decoder, data, opts);
}
