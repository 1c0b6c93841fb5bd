import type { LatentGaussian, Manifest } from '../manifest';
import { decodeLatents, decoderUnavailable } from './latent';
import type { GeneratorPlugin } from './types';

function priorsByClass(manifest: Manifest): Map<number, LatentGaussian> {
  return new Map(manifest.generator.classPriors.map((p) => [p.classId, p]));
}

/**
 * The VAE decoder fed from per-class diagonal Gaussians fitted to the training codes
 * (`manifest.generator.classPriors`): each sample is aimed at a class, so quotas fill directly.
 */
export const classPriorGenerator: GeneratorPlugin = {
  name: 'class-prior',
  description:
    'VAE decoder with z ~ N(mean_c, diag(std_c^2)) per class c, fitted to the training codes; honours class quotas directly',
  version: 1,
  targetsClasses: true,
  unavailableReason(manifest) {
    const base = decoderUnavailable(manifest);
    if (base) return base;
    const priors = priorsByClass(manifest);
    const size = manifest.generator.latentSize;
    for (const c of manifest.classes) {
      const p = priors.get(c);
      if (!p) return `manifest.generator.classPriors has no prior for class ${c}`;
      if (p.mean.length !== size || p.std.length !== size) {
        return `manifest.generator.classPriors for class ${c} is not ${size}-dimensional`;
      }
    }
    return undefined;
  },
  sample(models, { count, rng, targets }) {
    const priors = priorsByClass(models.manifest);
    const size = models.manifest.generator.latentSize;
    const z = new Float32Array(count * size);
    for (let i = 0; i < count; i++) {
      const c = targets[i] ?? models.manifest.classes[i % models.manifest.classes.length]!;
      const p = priors.get(c);
      if (!p) throw new RangeError(`class-prior: no prior for class ${c}`);
      for (let j = 0; j < size; j++) z[i * size + j] = p.mean[j]! + p.std[j]! * rng.normal();
    }
    return decodeLatents(models, z, count);
  },
};
