import { builtinGenerators, DEFAULT_GENERATOR, defaultGeneratorFor } from '../core/generators';
import type { Manifest } from '../core/manifest';
import type { GeneratorOffer } from './endpoint';
import { type BalanceSetting, DEFAULT_RECIPE, type GeneratorSetting } from './recipe';

/**
 * Which generator a client asks of a network, and whether with balanced per-class quotas.
 *  - generator: a name (asked of every network), absent (each network's default), or `'auto'`:
 *    the recipe's first preferred generator the network offers (`DEFAULT_RECIPE.generators`),
 *    else its default;
 *  - balance: on, off, or `'auto'`: on exactly when the chosen generator makes samples of a
 *    requested class (then quotas cost no rejected samples; an unconditional generator that
 *    rarely makes some class could exhaust the endpoint's attempt budget, HTTP 422).
 * Decided per network, from what its `GET /v1/network` offers, before any packet is fetched.
 */
export interface GeneratorChoice {
  /** The generator's name (the network's default when none was asked for). */
  generator: string;
  /** Whether to ask for the name (false: the network's default, asked for by no name). */
  named: boolean;
  balance: boolean;
}

export interface GeneratorMenu {
  /** What the network offers; absent when its description does not say. */
  offered?: readonly GeneratorOffer[] | undefined;
  /** Its default generator; absent when its description does not say. */
  defaultGenerator?: string | undefined;
}

export function chooseGenerator(
  generator: GeneratorSetting | undefined,
  balance: BalanceSetting | undefined,
  menu: GeneratorMenu,
): GeneratorChoice {
  const offered = menu.offered ?? [];
  const fallback = menu.defaultGenerator ?? DEFAULT_GENERATOR;
  let name = fallback;
  let named = false;
  if (generator === 'auto') {
    const preferred = DEFAULT_RECIPE.generators.find((g) => offered.some((o) => o.name === g));
    if (preferred !== undefined) [name, named] = [preferred, true];
  } else if (generator !== undefined) {
    [name, named] = [generator, true];
  }
  const targets = offered.find((o) => o.name === name)?.targetsClasses ?? false;
  return { generator: name, named, balance: balance === 'auto' ? targets : (balance ?? false) };
}

/** The menu of the target's own folder, for its replay made in-process. */
export function localMenu(manifest: Manifest): GeneratorMenu {
  const registry = builtinGenerators();
  const offered = registry
    .availableFor(manifest)
    .map((p) => ({ name: p.name, targetsClasses: p.targetsClasses }));
  return { offered, defaultGenerator: defaultGeneratorFor(registry, manifest) };
}
