import type { LatentGaussian } from '../manifest';
import { type ClassLatents, classLatentsUnavailable, decodeClassLatents } from './class-latents';
import type { GeneratorPlugin } from './types';

const priors: ClassLatents<LatentGaussian> = {
  generator: 'class-prior',
  field: 'classPriors',
  noun: 'prior',
  byClass: (manifest) => new Map(manifest.generator.classPriors.map((p) => [p.classId, p])),
  gaussians: (prior) => [prior],
  pick: (prior) => prior,
};

/**
 * The VAE decoder fed from per-class diagonal Gaussians fitted to the training codes
 * (`manifest.generator.classPriors`): each sample is aimed at a class, so quotas fill directly.
 */
export const classPriorGenerator: GeneratorPlugin = {
  name: priors.generator,
  description:
    'VAE decoder with z ~ N(mean_c, diag(std_c^2)) per class c, fitted to the training codes; honours class quotas directly',
  version: 1,
  targetsClasses: true,
  unavailableReason: (manifest) => classLatentsUnavailable(priors, manifest),
  sample: (models, request) => decodeClassLatents(priors, models, request),
};
