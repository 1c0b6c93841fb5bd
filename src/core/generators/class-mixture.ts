import type { LatentMixture, Manifest } from '../manifest';
import { decodeLatents, decoderUnavailable } from './latent';
import type { GeneratorPlugin } from './types';

function mixturesByClass(manifest: Manifest): Map<number, LatentMixture> {
  return new Map((manifest.generator.classMixtures ?? []).map((m) => [m.classId, m]));
}

/**
 * The VAE decoder fed from per-class diagonal Gaussian mixtures fitted to the training codes
 * (`manifest.generator.classMixtures`). One Gaussian per class (`class-prior`) covers the gaps
 * between a class's modes, where the decoder draws blurry in-betweens; a mixture keeps to
 * the modes. Each sample: one uniform draw picks a component by weight, then one normal
 * per latent dimension.
 */
export const classMixtureGenerator: GeneratorPlugin = {
  name: 'class-mixture',
  description:
    'VAE decoder with z from a per-class diagonal Gaussian mixture fitted to the training codes; honours class quotas directly',
  version: 1,
  targetsClasses: true,
  unavailableReason(manifest) {
    const base = decoderUnavailable(manifest);
    if (base) return base;
    if (!manifest.generator.classMixtures) {
      return 'manifest.generator.classMixtures is absent (a network trained before class mixtures existed: train it again)';
    }
    const mixtures = mixturesByClass(manifest);
    const size = manifest.generator.latentSize;
    for (const c of manifest.classes) {
      const m = mixtures.get(c);
      if (!m) return `manifest.generator.classMixtures has no mixture for class ${c}`;
      if (m.components.some((p) => p.mean.length !== size || p.std.length !== size)) {
        return `manifest.generator.classMixtures for class ${c} is not ${size}-dimensional`;
      }
    }
    return undefined;
  },
  sample(models, { count, rng, targets }) {
    const mixtures = mixturesByClass(models.manifest);
    const size = models.manifest.generator.latentSize;
    const z = new Float32Array(count * size);
    for (let i = 0; i < count; i++) {
      const c = targets[i] ?? models.manifest.classes[i % models.manifest.classes.length]!;
      const m = mixtures.get(c);
      if (!m) throw new RangeError(`class-mixture: no mixture for class ${c}`);
      const total = m.components.reduce((s, p) => s + p.weight, 0);
      let r = rng.next() * total;
      let p = m.components[m.components.length - 1]!;
      for (const candidate of m.components) {
        r -= candidate.weight;
        if (r < 0) {
          p = candidate;
          break;
        }
      }
      for (let j = 0; j < size; j++) z[i * size + j] = p.mean[j]! + p.std[j]! * rng.normal();
    }
    return decodeLatents(models, z, count);
  },
};
