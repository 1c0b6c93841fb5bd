import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ImageShape } from '../core/manifest';
import type { Dataset } from '../data/idx';
import { trainableVariables } from './classifier';
import { reconstruct, runVaeEpochs, type TrainVaeOptions } from './vae';

/**
 * The adversarial stage: after the VAE's own epochs, encoder and decoder go on training with
 * their usual loss plus `weight` x a critic's verdict on the reconstructions, while a small
 * discriminator learns to tell the network's real training images from those reconstructions.
 * The VAE's own loss (pixel and/or perceptual) keeps each output faithful to its image; the
 * critic pushes away the blur that loss settles for (the VAE/GAN idea of Larsen et al. 2016).
 * The discriminator serves training only and is not exported.
 */
export interface AdversarialOptions extends TrainVaeOptions {
  /** Weight of the critic's term, per image, beside the VAE's per-image loss terms. */
  weight: number;
}

/** A small critic: two strided convs with leaky ReLUs, then one logit (real > 0). */
export function buildDiscriminator(imageShape: ImageShape, seed: number): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: seed + k });
  const input = tfl.input({ shape: [...imageShape], name: 'image' });
  let x = input;
  for (const [i, filters] of [32, 64].entries()) {
    x = tfl.layers
      .conv2d({
        name: `critic-conv${i + 1}`,
        filters,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        kernelInitializer: init(i),
      })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.leakyReLU({ alpha: 0.2 }).apply(x) as tfl.SymbolicTensor;
  }
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  const logit = tfl.layers
    .dense({ name: 'critic-logit', units: 1, kernelInitializer: init(9) })
    .apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logit, name: 'critic' });
}

/** The critic's loss: real images towards logit > 0, reconstructions towards < 0. */
export function criticLoss(critic: tfl.LayersModel, real: tf.Tensor, fake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const onReal = critic.apply(real) as tf.Tensor;
    const onFake = critic.apply(fake) as tf.Tensor;
    return tf.add(tf.mean(tf.softplus(tf.neg(onReal))), tf.mean(tf.softplus(onFake))) as tf.Scalar;
  });
}

/** The generator's side (non-saturating): reconstructions the critic takes for real. */
export function fooledLoss(critic: tfl.LayersModel, fake: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.softplus(tf.neg(critic.apply(fake) as tf.Tensor))) as tf.Scalar);
}

/** Run the adversarial stage on a trained VAE; returns the last epoch's mean VAE loss. */
export async function trainVaeAdversarial(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  data: Dataset,
  opts: AdversarialOptions,
): Promise<number> {
  const critic = buildDiscriminator(data.imageShape, opts.seed);
  const criticVariables = trainableVariables(critic);
  // beta1 0.5: the usual setting for adversarial training (Radford et al. 2016)
  const criticOptimizer = tf.train.adam(opts.learningRate, 0.5);
  try {
    return await runVaeEpochs(encoder, decoder, data, opts, {
      stage: 'vae-adversarial',
      // gradients reach only the critic's variables: the VAE is not moved by this step
      beforeStep: (x, eps) => {
        const cost = criticOptimizer.minimize(
          () => criticLoss(critic, x, reconstruct(encoder, decoder, x, eps).xHat),
          true,
          criticVariables,
        );
        tf.dispose(cost!);
      },
      extraTerm: (xHat) => tf.mul(opts.weight, fooledLoss(critic, xHat)),
    });
  } finally {
    criticOptimizer.dispose();
    critic.dispose();
  }
}
