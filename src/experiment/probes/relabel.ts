import { crossLabel, scorerLabelSource } from '../../client/cross-label';
import { calibrateMember, disposeMember } from '../../client/fair-ensemble';
import { mergeSets } from '../../client/merge';
import { deriveSeed } from '../../core/rng';
import { packets, paperFinetune, type Repeat, score } from './repeat';

/**
 * Soft targets (1 - V) x the sender's labels + V x the fair ensemble's (each member calibrated
 * on its own validation slice; `disputed-V`: only where the ensemble names another network): the client's cross-labelling (src/client/cross-label.ts) with
 * every network in-process instead of behind its endpoint.
 */
export async function relabelProbe(r: Repeat, value: string) {
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const members = r.nets.map((n, i) =>
    calibrateMember(n.classifier, n.manifest.classes, r.own[i]!.validation),
  );
  try {
    const sources = members.map((m, i) =>
      scorerLabelSource(r.nets[i]!.manifest.networkId, m, merged.imageShape),
    );
    // V, or disputed-V: only the samples the fair ensemble gives to another network
    const disputed = value.startsWith('disputed-');
    const { set, agreement } = await crossLabel(merged, sources, {
      weight: Number(disputed ? value.slice('disputed-'.length) : value),
      scope: disputed ? 'disputed' : 'all',
    });
    const model = await paperFinetune(r, set);
    return { fairAgreesWithSender: agreement, ...(await score(r, model, merged.classes)) };
  } finally {
    for (const m of members) disposeMember(m);
  }
}
