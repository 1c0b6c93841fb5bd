import * as tf from '@tensorflow/tfjs-core';
import { forward } from '../forward';
import type { GeneratorModels } from './types';

/** Decode latent codes `z` ([count, latentSize] row-major) with the network's decoder. */
export function decodeLatents(
  models: GeneratorModels,
  z: Float32Array,
  count: number,
): tf.Tensor4D {
  const latentSize = models.manifest.generator.latentSize;
  if (z.length !== count * latentSize) {
    throw new RangeError(`latents: ${z.length} values, want ${count}x${latentSize}`);
  }
  return tf.tidy(() => {
    const input = tf.tensor2d(z, [count, latentSize]);
    return forward(models.decoder, input) as tf.Tensor4D;
  });
}

/** Whether the manifest describes a decoder this family of generators can drive. */
export function decoderUnavailable(models: { generator: { kind: string } }): string | undefined {
  return models.generator.kind === 'vae-decoder'
    ? undefined
    : `generator kind ${models.generator.kind} is not a VAE decoder`;
}
