import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { buildDecoder, buildEncoder } from '../../../src/core/models';
import { data } from './helpers';

/** Shared by the training tests of every kernel set (fast wasm, native). */

// 14x14 is not a multiple of 4, so the decoder also exercises its cropping layer.
export const SHAPE: [number, number, number] = [14, 14, 1];
export const BATCH = 16;

/** A fixed batch of images in [0, 1] with 4 one-hot classes. */
export function batch(): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const px = data(BATCH * 14 * 14, 21).map((v) => (v + 1) / 2);
  const labels = Array.from({ length: BATCH }, (_, i) => i % 4);
  return { x: tf.tensor4d(px, [BATCH, ...SHAPE]), y: tf.oneHot(labels, 4) as tf.Tensor2D };
}

/** The VAE loss (BCE reconstruction + KL) per image, as the trainer computes it. */
function vaeLoss(enc: tfl.LayersModel, dec: tfl.LayersModel, x: tf.Tensor4D): tf.Scalar {
  const [mean, logVar] = enc.apply(x, { training: true }) as [tf.Tensor2D, tf.Tensor2D];
  const eps = tf.randomNormal(mean.shape, 0, 1, 'float32', 5);
  const z = tf.add(mean, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps));
  const xHat = tf.clipByValue(dec.apply(z, { training: true }) as tf.Tensor, 1e-6, 1 - 1e-6);
  const bce = tf.neg(
    tf.add(tf.mul(x, tf.log(xHat)), tf.mul(tf.sub(1, x), tf.log(tf.sub(1, xHat)))),
  );
  const kl = tf.mul(
    -0.5,
    tf.sum(tf.sub(tf.add(1, logVar), tf.add(tf.square(mean), tf.exp(logVar)))),
  );
  return tf.div(tf.add(tf.sum(bce), kl), BATCH) as tf.Scalar;
}

/** Six Adam steps on a VAE must lower its loss, stay finite and leak no tensor. */
export function expectVaeTrainingLowersLoss(upsampling: 'transpose' | 'resize'): void {
  const enc = buildEncoder({ imageShape: SHAPE, latentSize: 8, seed: 2 });
  const dec = buildDecoder({ imageShape: SHAPE, latentSize: 8, upsampling, seed: 3 });
  const vars = [...enc.trainableWeights, ...dec.trainableWeights].map(
    (w) => w.read() as tf.Variable,
  );
  const opt = tf.train.adam(3e-3);
  const { x, y } = batch();
  const step = () => {
    const loss = opt.minimize(() => vaeLoss(enc, dec, x), true, vars) as tf.Scalar;
    const v = loss.dataSync()[0] as number;
    loss.dispose();
    return v;
  };
  const first = step();
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 6; i++) last = step();
  expect(tf.memory().numTensors).toBe(before);
  expect(Number.isFinite(last)).toBe(true);
  expect(last).toBeLessThan(first);
  tf.dispose([x, y]);
  opt.dispose();
  enc.dispose();
  dec.dispose();
}
