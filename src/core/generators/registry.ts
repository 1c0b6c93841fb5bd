import { GENERATOR_NAME_PATTERN, type Manifest } from '../manifest';
import type { GeneratorPlugin } from './types';

/** Name -> generator plug-in. Built-ins are registered by `./index.ts`. */
export class GeneratorRegistry {
  readonly #plugins = new Map<string, GeneratorPlugin>();

  register(plugin: GeneratorPlugin): this {
    if (!GENERATOR_NAME_PATTERN.test(plugin.name))
      throw new Error(`generator name ${plugin.name}: use [a-z0-9-]`);
    if (plugin.name === 'auto') {
      throw new Error("generator name auto is reserved: a client's --generator auto picks one");
    }
    if (this.#plugins.has(plugin.name)) {
      throw new Error(`generator ${plugin.name} is already registered`);
    }
    this.#plugins.set(plugin.name, plugin);
    return this;
  }

  get(name: string): GeneratorPlugin | undefined {
    return this.#plugins.get(name);
  }

  names(): string[] {
    return [...this.#plugins.keys()];
  }

  /** The generators this network can offer, in registration order. */
  availableFor(manifest: Manifest): GeneratorPlugin[] {
    return [...this.#plugins.values()].filter((p) => p.unavailableReason(manifest) === undefined);
  }
}
