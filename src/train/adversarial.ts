import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { CriticFakes, CriticKind, ImageShape } from '../core/manifest';
import { createRng, deriveSeed, type Rng } from '../core/rng';
import type { Dataset } from '../data/idx';
import { oneHotBatch } from './batches';
import { trainableVariables } from './classifier';
import {
  reconstruct,
  runVaeEpochs,
  type TrainVaeOptions,
  type VaeBatch,
  type VaePass,
} from './vae';

/**
 * The adversarial stage: after the VAE's own epochs, encoder and decoder go on training with
 * their usual loss plus `weight` x a critic's verdict on the reconstructions, while a small
 * discriminator learns to tell the network's real training images from those reconstructions.
 * The VAE's own loss (pixel and/or perceptual) keeps each output faithful to its image; the
 * critic pushes away the blur that loss settles for (the VAE/GAN idea of Larsen et al. 2016).
 * The discriminator serves training only and is not exported.
 *
 * The critic judges an image alone (`image`), or an image with its class (`class`: a
 * projection discriminator, Miyato & Koyama 2018): then a reconstruction must look like a real
 * image *of its source image's class*, not merely like some real image of the network.
 *
 * The critic's fakes are the reconstructions (`reconstructions`), or those and as many decoded
 * interpolations between two codes of one class (`interpolations`; the adversarial
 * interpolation idea of Berthelot et al. 2018): the served class mixtures sample *between*
 * training codes, where a critic that only sees reconstructions never looks.
 */
export interface AdversarialOptions extends TrainVaeOptions {
  /** Weight of the critic's term, per image, beside the VAE's per-image loss terms. */
  weight: number;
  /** What the critic sees (default `image`). */
  critic?: CriticKind | undefined;
  /** What the critic is shown as fakes (default `reconstructions`). */
  fakes?: CriticFakes | undefined;
  /** The network's classes (one-hot columns of a `class` critic's label input). */
  classes: readonly number[];
}

/**
 * A small critic: two strided convs with leaky ReLUs, then one logit (real > 0). With
 * `classCount` > 0 it also takes a one-hot label y and adds the projection (E y) . h of the
 * image's features h onto the logit.
 */
export function buildDiscriminator(
  imageShape: ImageShape,
  seed: number,
  classCount = 0,
): tfl.LayersModel {
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
  const h = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  const logit = tfl.layers
    .dense({ name: 'critic-logit', units: 1, kernelInitializer: init(9) })
    .apply(h) as tfl.SymbolicTensor;
  if (classCount === 0) return tfl.model({ inputs: input, outputs: logit, name: 'critic' });
  const label = tfl.input({ shape: [classCount], name: 'label' });
  const embedded = tfl.layers
    .dense({
      name: 'critic-embedding',
      units: h.shape[1]!,
      useBias: false,
      kernelInitializer: init(10),
    })
    .apply(label) as tfl.SymbolicTensor;
  const projection = tfl.layers.dot({ axes: -1 }).apply([embedded, h]) as tfl.SymbolicTensor;
  const out = tfl.layers.add().apply([logit, projection]) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [input, label], outputs: out, name: 'critic' });
}

/** The critic's logits for images (and their one-hot labels, for a `class` critic). */
function judge(critic: tfl.LayersModel, images: tf.Tensor, labels?: tf.Tensor): tf.Tensor {
  return critic.apply(labels ? [images, labels] : images) as tf.Tensor;
}

/** The critic's loss: real images towards logit > 0, reconstructions towards < 0. */
export function criticLoss(
  critic: tfl.LayersModel,
  real: tf.Tensor,
  fake: tf.Tensor,
  labels?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const onReal = judge(critic, real, labels);
    const onFake = judge(critic, fake, labels);
    return tf.add(tf.mean(tf.softplus(tf.neg(onReal))), tf.mean(tf.softplus(onFake))) as tf.Scalar;
  });
}

/** The generator's side (non-saturating): reconstructions the critic takes for real. */
export function fooledLoss(
  critic: tfl.LayersModel,
  fake: tf.Tensor,
  labels?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.softplus(tf.neg(judge(critic, fake, labels)))) as tf.Scalar);
}

/**
 * Each image's partner for an interpolation: another image of its class in the batch, drawn
 * uniformly (itself where it is its class's only image in the batch).
 */
export function sameClassPartners(labels: ArrayLike<number>, rng: Rng): Int32Array {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const peers = byClass.get(labels[i]!);
    if (peers) peers.push(i);
    else byClass.set(labels[i]!, [i]);
  }
  const partners = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const others = byClass.get(labels[i]!)!.filter((j) => j !== i);
    // one draw among the others (made even when there are none, so draws stay aligned)
    partners[i] = others[Math.floor(rng.next() * others.length)] ?? i;
  }
  return partners;
}

/**
 * Decoded points (1 - t) z_i + t z_partner(i) between each code and its partner's; `pick` is
 * the one-hot [n, n] matrix of the partners (a product rather than a gather, whose gradient
 * the wasm backend lacks).
 */
export function decodeInterpolations(
  decoder: tfl.LayersModel,
  zMean: tf.Tensor,
  pick: tf.Tensor2D,
  t: tf.Tensor2D,
): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.add(zMean, tf.mul(t, tf.sub(tf.matMul(pick, zMean as tf.Tensor2D), zMean)));
    return decoder.apply(z, { training: true }) as tf.Tensor;
  });
}

/** One batch's interpolation draws: each image's partner and where between them (t in [0, 1)). */
interface InterpolationDraw {
  /** One-hot rows: row i picks image i's partner. */
  pick: tf.Tensor2D;
  t: tf.Tensor2D;
}

/** What one batch's critic step and VAE step share, made once before both. */
interface CriticBatch {
  /** A class critic's one-hot labels, one row per fake. */
  labels?: tf.Tensor2D | undefined;
  /** Where interpolations join: their draws. */
  draw?: InterpolationDraw | undefined;
}

/** Run the adversarial stage on a trained VAE; returns the last epoch's mean VAE loss. */
export async function trainVaeAdversarial(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  data: Dataset,
  opts: AdversarialOptions,
): Promise<number> {
  const byClass = opts.critic === 'class';
  const critic = buildDiscriminator(data.imageShape, opts.seed, byClass ? opts.classes.length : 0);
  const criticVariables = trainableVariables(critic);
  const interpolating = opts.fakes === 'interpolations';
  const rng = createRng(deriveSeed(opts.seed, 'interpolations'));
  const drawFor = (b: VaeBatch): InterpolationDraw => {
    const labels = Array.from(b.idx, (i) => data.labels[i]!);
    const n = b.idx.length;
    const t = Float32Array.from(b.idx, () => rng.next());
    const pick = new Float32Array(n * n);
    sameClassPartners(labels, rng).forEach((j, i) => {
      pick[i * n + j] = 1;
    });
    return { pick: tf.tensor2d(pick, [n, n]), t: tf.tensor2d(t, [n, 1]) };
  };
  // Made once per batch, before its critic step, and used again by its VAE step.
  // Interpolations keep their first image's class, so a class critic's labels repeat.
  const prepare = (b: VaeBatch): CriticBatch => {
    const draw = interpolating ? drawFor(b) : undefined;
    if (!byClass) return { draw };
    const labels = tf.tidy(() => {
      const once = oneHotBatch(data, b.idx, opts.classes);
      return draw ? (tf.concat([once, once]) as tf.Tensor2D) : once;
    });
    return { labels, draw };
  };
  const release = (c: CriticBatch) =>
    tf.dispose([c.labels, c.draw?.pick, c.draw?.t].filter((x) => x !== undefined));
  let current: CriticBatch = {};
  const fakesOf = (pass: VaePass): tf.Tensor => {
    const draw = current.draw;
    return draw
      ? tf.concat([pass.xHat, decodeInterpolations(decoder, pass.zMean, draw.pick, draw.t)])
      : pass.xHat;
  };
  // beta1 0.5: the usual setting for adversarial training (Radford et al. 2016)
  const criticOptimizer = tf.train.adam(opts.learningRate, 0.5);
  try {
    return await runVaeEpochs(encoder, decoder, data, opts, {
      stage: 'vae-adversarial',
      // gradients reach only the critic's variables: the VAE is not moved by this step
      beforeStep: (b) => {
        release(current);
        current = prepare(b);
        const cost = criticOptimizer.minimize(
          () => {
            const fakes = fakesOf(reconstruct(encoder, decoder, b.x, b.eps));
            // a class critic takes one label per image: the batch twice beside the labels
            const real = current.draw && byClass ? tf.concat([b.x, b.x]) : b.x;
            return criticLoss(critic, real, fakes, current.labels);
          },
          true,
          criticVariables,
        );
        tf.dispose(cost!);
      },
      extraTerm: (pass) => tf.mul(opts.weight, fooledLoss(critic, fakesOf(pass), current.labels)),
    });
  } finally {
    release(current);
    criticOptimizer.dispose();
    critic.dispose();
  }
}
