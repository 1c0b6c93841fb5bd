import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { mergeSets, type SoftSet } from '../../client/merge';
import { imagesTensor } from '../../core/calibration';
import { deriveSeed } from '../../core/rng';
import { packets, paperFinetune, type Repeat, score } from './repeat';

/** Gradient steps per sample. */
const STEPS = 5;

/**
 * `K` steps of x <- clip(x + eta * g / mean|g|), g the gradient of log p(c | x) under the
 * sender's own classifier, c the sample's top class: each generated sample is pushed towards
 * what the classifier trained on real images calls its class (the "VAE samples refined
 * by a few gradient steps against the network's own classifier"). The soft labels are then the
 * sender's answers for the refined images. Returns new images and labels; no tensor outlives it.
 */
export function refineSet(set: SoftSet, classifier: tfl.LayersModel, eta: number): SoftSet {
  const [h, w, c] = set.imageShape;
  const px = h * w * c;
  const k = set.classIds.length;
  const images = new Uint8Array(set.images.length);
  const softLabels = new Float32Array(set.softLabels.length);
  for (let s = 0; s < set.count; s += 500) {
    const n = Math.min(500, set.count - s);
    const [out, labels] = tf.tidy(() => {
      let x = imagesTensor(set, s, n);
      const top = tf.argMax(tf.tensor2d(set.softLabels.subarray(s * k, (s + n) * k), [n, k]), 1);
      const mask = tf.oneHot(top as tf.Tensor1D, k);
      const logp = (v: tf.Tensor) =>
        tf.sum(tf.mul(tf.log(tf.add(classifier.apply(v) as tf.Tensor, 1e-7)), mask));
      const grad = tf.grad(logp);
      for (let step = 0; step < STEPS; step++) {
        const g = grad(x);
        const scale = tf.add(tf.mean(tf.abs(g), [1, 2, 3], true), 1e-12);
        x = tf.clipByValue(tf.add(x, tf.mul(eta, tf.div(g, scale))), 0, 1) as tf.Tensor4D;
      }
      const q = tf.round(tf.mul(x, 255));
      return [q, classifier.predict(tf.div(q, 255)) as tf.Tensor];
    });
    images.set(out!.dataSync(), s * px);
    softLabels.set(labels!.dataSync(), s * k);
    tf.dispose([out!, labels!]);
  }
  return { ...set, images, softLabels };
}

/** The paper recipe's packets, each refined by its sender's classifier at step size V. */
export async function refineProbe(r: Repeat, value: string) {
  const eta = Number(value);
  const sets = (await packets(r)).map((set) => {
    const net = r.nets.find((n) => n.manifest.networkId === set.networkId)!;
    return eta > 0 ? refineSet(set, net.classifier, eta) : set;
  });
  const merged = mergeSets(sets, { seed: deriveSeed(r.seed, 'merge') });
  return score(r, await paperFinetune(r, merged), merged.classes);
}
