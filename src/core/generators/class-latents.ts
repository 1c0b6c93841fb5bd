import type * as tf from '@tensorflow/tfjs-core';
import type { Manifest } from '../manifest';
import type { Rng } from '../rng';
import { decodeLatents, decoderUnavailable } from './latent';
import type { GeneratorModels, SampleRequest } from './types';

/** A diagonal Gaussian in latent space. */
export interface DiagonalGaussian {
  mean: readonly number[];
  std: readonly number[];
}

/**
 * A per-class latent model stored in the manifest (`classPriors`, `classMixtures`): what the
 * class-aiming generators share. `field` and `noun` name it in messages.
 */
export interface ClassLatents<T> {
  generator: string;
  field: 'classPriors' | 'classMixtures';
  noun: string;
  /** The model of each class, by class id (absent: the manifest has none). */
  byClass(manifest: Manifest): Map<number, T> | undefined;
  /** Every Gaussian the model holds (to check their size). */
  gaussians(model: T): readonly DiagonalGaussian[];
  /** The Gaussian one sample is drawn from (may draw from `rng` first, in a fixed order). */
  pick(model: T, rng: Rng): DiagonalGaussian;
}

/** Why the manifest's per-class latents cannot serve every one of its classes, or undefined. */
export function classLatentsUnavailable<T>(
  latents: ClassLatents<T>,
  manifest: Manifest,
): string | undefined {
  const base = decoderUnavailable(manifest);
  if (base) return base;
  const byClass = latents.byClass(manifest);
  if (!byClass) {
    return `manifest.generator.${latents.field} is absent (a network trained before class ${latents.noun}s existed: train it again)`;
  }
  const size = manifest.generator.latentSize;
  for (const c of manifest.classes) {
    const m = byClass.get(c);
    if (!m) return `manifest.generator.${latents.field} has no ${latents.noun} for class ${c}`;
    if (latents.gaussians(m).some((g) => g.mean.length !== size || g.std.length !== size)) {
      return `manifest.generator.${latents.field} for class ${c} is not ${size}-dimensional`;
    }
  }
  return undefined;
}

/**
 * One latent code per sample, aimed at `targets[i]` (else the network's classes in turn):
 * `pick` chooses the Gaussian, then one normal per latent dimension; then decoded.
 */
export function decodeClassLatents<T>(
  latents: ClassLatents<T>,
  models: GeneratorModels,
  { count, rng, targets }: SampleRequest,
): tf.Tensor4D {
  const { classes, generator } = models.manifest;
  const byClass = latents.byClass(models.manifest) ?? new Map<number, T>();
  const size = generator.latentSize;
  const z = new Float32Array(count * size);
  for (let i = 0; i < count; i++) {
    const c = targets[i] ?? classes[i % classes.length]!;
    const m = byClass.get(c);
    if (m === undefined) {
      throw new RangeError(`${latents.generator}: no ${latents.noun} for class ${c}`);
    }
    const g = latents.pick(m, rng);
    for (let j = 0; j < size; j++) z[i * size + j] = g.mean[j]! + g.std[j]! * rng.normal();
  }
  return decodeLatents(models, z, count);
}
