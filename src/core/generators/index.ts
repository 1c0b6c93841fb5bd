import type { Manifest } from '../manifest';
import { classMixtureGenerator } from './class-mixture';
import { classPriorGenerator } from './class-prior';
import { GeneratorRegistry } from './registry';
import { vaeGenerator } from './vae';

export { decodeLatents } from './latent';
export { GeneratorRegistry } from './registry';
export type { GeneratorModels, GeneratorPlugin, SampleRequest } from './types';

/** The paper's generator; what `?generator=` defaults to. */
export const DEFAULT_GENERATOR = vaeGenerator.name;

/**
 * The generator a network uses when a request names none: the paper's when the network can
 * offer it, else the first it offers (endpoints and the client's local replay alike).
 */
export function defaultGeneratorFor(registry: GeneratorRegistry, manifest: Manifest): string {
  const available = registry.availableFor(manifest).map((g) => g.name);
  return available.includes(DEFAULT_GENERATOR)
    ? DEFAULT_GENERATOR
    : (available[0] ?? DEFAULT_GENERATOR);
}

/**
 * The built-in generators. To add one: write a `GeneratorPlugin` in this folder and
 * register it here; routes, packet metadata and the client pick it up by name.
 */
export function builtinGenerators(): GeneratorRegistry {
  return new GeneratorRegistry()
    .register(vaeGenerator)
    .register(classPriorGenerator)
    .register(classMixtureGenerator);
}
