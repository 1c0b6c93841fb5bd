import * as tf from '@tensorflow/tfjs-core';
import type { LoadedNetwork } from '../core/model-folder';
import { createRng } from '../core/rng';
import type { SoftSet } from './merge';

/**
 * The target's own replay set, made locally from its model folder the way an endpoint makes
 * a packet with the paper's generator: z ~ N(0, I) (seeded), decode, classify with the
 * network's own classifier (soft labels), keep samples whose top probability is >= threshold.
 * Used when the target network does not also run an endpoint.
 */
export async function generateReplaySet(
  net: LoadedNetwork,
  opts: { samples: number; seed: number; threshold?: number; batchSize?: number },
): Promise<SoftSet> {
  const [h, w, c] = net.manifest.dataset.imageShape;
  const px = h * w * c;
  const k = net.manifest.classes.length;
  const latent = net.manifest.generator.latentSize;
  const threshold = opts.threshold ?? 0;
  const batch = opts.batchSize ?? 256;
  const rng = createRng(opts.seed >>> 0);
  const images = new Uint8Array(opts.samples * px);
  const soft = new Float32Array(opts.samples * k);
  let n = 0;
  let generated = 0;
  while (n < opts.samples) {
    if (generated > 50 * opts.samples + 10 * batch) {
      throw new Error(
        `replay for ${net.manifest.networkId}: only ${n} of ${opts.samples} samples passed threshold ${threshold}`,
      );
    }
    const z = new Float32Array(batch * latent);
    for (let i = 0; i < z.length; i++) z[i] = rng.normal();
    const [imgT, probT] = tf.tidy(() => {
      const x = net.decoder.predict(tf.tensor2d(z, [batch, latent])) as tf.Tensor;
      const bytes = tf.round(tf.mul(tf.clipByValue(x, 0, 1), 255));
      const p = net.classifier.predict(tf.div(bytes, 255)) as tf.Tensor;
      return [bytes, p];
    });
    const img = await imgT.data();
    const probs = await probT.data();
    tf.dispose([imgT, probT]);
    generated += batch;
    for (let i = 0; i < batch && n < opts.samples; i++) {
      let top = 0;
      for (let j = 0; j < k; j++) top = Math.max(top, probs[i * k + j]!);
      if (top < threshold) continue;
      for (let j = 0; j < px; j++) images[n * px + j] = img[i * px + j]!;
      soft.set(probs.subarray(i * k, (i + 1) * k), n * k);
      n++;
    }
  }
  return {
    source: `replay:${net.manifest.networkId}`,
    networkId: net.manifest.networkId,
    classIds: [...net.manifest.classes],
    imageShape: [h, w, c],
    count: n,
    images,
    softLabels: soft,
  };
}
