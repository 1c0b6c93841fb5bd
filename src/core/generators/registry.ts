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

  /**
   * A registry of only the named generators (an endpoint's allow-list, e.g. to keep a
   * generator whose samples sit too near the training set off the wire). Throws on a name
   * that is not registered, naming the known ones.
   */
  only(names: readonly string[]): GeneratorRegistry {
    const unknown = names.filter((n) => !this.#plugins.has(n));
    if (unknown.length > 0) {
      throw new Error(
        `unknown generator ${unknown.join(', ')} (registered: ${this.names().join(', ')})`,
      );
    }
    const out = new GeneratorRegistry();
    for (const n of names) out.register(this.#plugins.get(n)!);
    return out;
  }

  /** The generators this network can offer, in registration order. */
  availableFor(manifest: Manifest): GeneratorPlugin[] {
    return [...this.#plugins.values()].filter((p) => p.unavailableReason(manifest) === undefined);
  }
}
