import type { LoadedNetwork } from '../core/model-folder';
import {
  type CrossLabelScope,
  crossLabel,
  endpointLabelSource,
  type LabelSource,
  localLabelSource,
} from './cross-label';
import type { NetworkInfo } from './endpoint';
import { ClientError } from './errors';
import type { EndpointAddress, RetryOptions } from './http';
import type { MergedSet } from './merge';
import { DEFAULT_RECIPE } from './recipe';

/**
 * How a client cross-labels: a weight in 0..1 (0: off; above 0 every network must be able to
 * answer, else an error says which and how to fix it), or `'auto'`: the default recipe's
 * weight when every network can answer (each endpoint's `labels`, and the target's
 * calibration.json when no endpoint serves it), else off, saying why.
 */
export type CrossLabelSetting = number | 'auto';

export interface CrossLabelPlan {
  weight: number;
  scope: CrossLabelScope;
  /** The weight for the target's own real images (default `weight`; 0: they stay here). */
  ownWeight: number;
  /** Every endpoint's POST /v1/label; the target's own folder is added when `local`. */
  sources: LabelSource[];
  /** No endpoint serves the target: its own calibration runs in-process. */
  local: boolean;
  /** Why 'auto' turned cross-labelling off. */
  skipped?: string;
}

/** Decided before any packet is fetched, so a refusal costs nothing. */
export function planCrossLabel(
  setting: CrossLabelSetting | undefined,
  infos: readonly NetworkInfo[],
  endpoints: readonly EndpointAddress[],
  target: LoadedNetwork,
  retry: RetryOptions,
  scope: CrossLabelScope = DEFAULT_RECIPE.crossLabelScope,
  ownSetting?: number,
): CrossLabelPlan {
  const auto = setting === 'auto';
  const weight = auto ? DEFAULT_RECIPE.crossLabel : (setting ?? 0);
  if (!(weight >= 0 && weight <= 1)) {
    throw new ClientError(`crossLabel ${weight} is not in 0..1`);
  }
  if (ownSetting !== undefined && !(ownSetting >= 0 && ownSetting <= 1)) {
    throw new ClientError(`crossLabelOwn ${ownSetting} is not in 0..1`);
  }
  const ownWeight = ownSetting ?? weight;
  const local = !infos.some((i) => i.networkId === target.manifest.networkId);
  if (weight === 0) return { weight: 0, scope, ownWeight, sources: [], local };
  if (auto) {
    const missing = infos.filter((i) => !i.labels).map((i) => `${i.networkId} (${i.endpoint})`);
    if (local && !target.calibration) missing.push(`${target.manifest.networkId} (the target)`);
    if (missing.length > 0) {
      return {
        weight: 0,
        scope,
        ownWeight,
        sources: [],
        local,
        skipped: `cross-labelling off: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not calibrated (npm run calibrate, or train with --validation-fraction)`,
      };
    }
  } else if (local && !target.calibration) {
    throw new ClientError(
      `cross-labelling needs the target ${target.manifest.networkId}'s calibration.json (its folder has none) or an endpoint serving it: calibrate it (npm run calibrate) or pass --cross-label 0`,
    );
  }
  return {
    weight,
    scope,
    ownWeight,
    sources: infos.map((info, i) => endpointLabelSource(endpoints[i]!, info, retry)),
    local,
  };
}

/** The merged set cross-labelled by the plan's sources (and the target's, when local). */
export async function applyCrossLabel(
  plan: CrossLabelPlan,
  merged: MergedSet,
  target: LoadedNetwork,
  onProgress: (p: { source: string; labelled: number; total: number }) => void,
): Promise<{ set: MergedSet; agreement: number }> {
  const local = plan.local ? localLabelSource(target) : undefined;
  try {
    return await crossLabel(merged, local ? [...plan.sources, local] : plan.sources, {
      weight: plan.weight,
      scope: plan.scope,
      realWeight: plan.ownWeight,
      onProgress,
    });
  } finally {
    local?.dispose();
  }
}

/**
 * The packet threshold: a number as given (absent: 0), or 'auto', the default recipe's:
 * `crossLabelThreshold` while cross-labelling, else `threshold`.
 */
export function resolveThreshold(
  setting: number | 'auto' | undefined,
  plan: Pick<CrossLabelPlan, 'weight'>,
): number {
  if (setting !== 'auto') return setting ?? 0;
  return plan.weight > 0 ? DEFAULT_RECIPE.crossLabelThreshold : DEFAULT_RECIPE.threshold;
}
