import { decodeLatents, decoderUnavailable } from './latent';
import type { GeneratorPlugin } from './types';

/** The paper's generator: the VAE decoder fed with z ~ N(0, I). */
export const vaeGenerator: GeneratorPlugin = {
  name: 'vae',
  description: 'VAE decoder with z ~ N(0, I) (the paper); classes come out as the prior gives them',
  version: 1,
  targetsClasses: false,
  unavailableReason: (manifest) => decoderUnavailable(manifest),
  sample(models, { count, rng }) {
    const z = new Float32Array(count * models.manifest.generator.latentSize);
    for (let i = 0; i < z.length; i++) z[i] = rng.normal();
    return decodeLatents(models, z, count);
  },
};
