import type { LatentMixture } from '../manifest';
import type { Rng } from '../rng';
import {
  type ClassLatents,
  classLatentsUnavailable,
  type DiagonalGaussian,
  decodeClassLatents,
} from './class-latents';
import type { GeneratorPlugin } from './types';

/** A component by its weight: one uniform draw over the weights' sum. */
function pickComponent(m: LatentMixture, rng: Rng): DiagonalGaussian {
  const total = m.components.reduce((s, p) => s + p.weight, 0);
  let r = rng.next() * total;
  for (const p of m.components) {
    r -= p.weight;
    if (r < 0) return p;
  }
  return m.components[m.components.length - 1]!;
}

const mixtures: ClassLatents<LatentMixture> = {
  generator: 'class-mixture',
  field: 'classMixtures',
  noun: 'mixture',
  byClass: (manifest) =>
    manifest.generator.classMixtures &&
    new Map(manifest.generator.classMixtures.map((m) => [m.classId, m])),
  gaussians: (m) => m.components,
  pick: pickComponent,
};

/**
 * The VAE decoder fed from per-class diagonal Gaussian mixtures fitted to the training codes
 * (`manifest.generator.classMixtures`). One Gaussian per class (`class-prior`) covers the gaps
 * between a class's modes, where the decoder draws blurry in-betweens; a mixture keeps to
 * the modes. Each sample: one uniform draw picks a component by weight, then one normal
 * per latent dimension.
 */
export const classMixtureGenerator: GeneratorPlugin = {
  name: mixtures.generator,
  description:
    'VAE decoder with z from a per-class diagonal Gaussian mixture fitted to the training codes; honours class quotas directly',
  version: 1,
  targetsClasses: true,
  unavailableReason: (manifest) => classLatentsUnavailable(mixtures, manifest),
  sample: (models, request) => decodeClassLatents(mixtures, models, request),
};
