import { builtinGenerators, DEFAULT_GENERATOR, type GeneratorRegistry } from '../core/generators';
import type { LoadedNetwork } from '../core/model-folder';
import { DEFAULT_SAMPLING_LIMITS, type SamplingLimits, sampleFiltered } from '../core/sampling';
import { ClientError } from './errors';
import type { SoftSet } from './merge';

export interface ReplayOptions {
  samples: number;
  seed: number;
  threshold?: number;
  /** Generator name (default: the endpoint's default, `vae`). */
  generator?: string | undefined;
  /** Equal quotas over these class ids (as `classes=` on the packet route). */
  classes?: readonly number[] | undefined;
  limits?: SamplingLimits;
  generators?: GeneratorRegistry;
}

/**
 * The target's own replay set, made locally from its model folder by the endpoint's sampler
 * (`src/core/sampling.ts`): the samples are byte-identical to a packet of `samples` samples
 * with this seed, threshold and generator from an endpoint serving the target. Used when the
 * target network does not also run an endpoint.
 */
export async function generateReplaySet(net: LoadedNetwork, opts: ReplayOptions): Promise<SoftSet> {
  const name = opts.generator ?? DEFAULT_GENERATOR;
  const plugin = (opts.generators ?? builtinGenerators()).get(name);
  if (!plugin) throw new ClientError(`replay: generator ${name} is not registered`);
  const why = plugin.unavailableReason(net.manifest);
  if (why) throw new ClientError(`replay for ${net.manifest.networkId}: ${why}`);
  const set = await sampleFiltered(
    net,
    plugin,
    {
      count: opts.samples,
      seed: opts.seed >>> 0,
      threshold: opts.threshold ?? 0,
      classes: opts.classes,
    },
    opts.limits ?? DEFAULT_SAMPLING_LIMITS,
  ).catch((e: unknown) => {
    throw new ClientError(`replay for ${net.manifest.networkId}: ${(e as Error).message}`, {
      cause: e,
    });
  });
  return {
    source: `replay:${net.manifest.networkId}`,
    networkId: net.manifest.networkId,
    classIds: [...net.manifest.classes],
    imageShape: net.manifest.dataset.imageShape,
    count: set.kept,
    images: set.images,
    softLabels: set.softLabels,
  };
}
