import type { CrossLabelPlan } from './cross-label-plan';
import { ClientError } from './errors';
import type { MergedSet } from './merge';
import type { OwnImagesLoss, RunClientOptions } from './run-options';

/**
 * The target's real images leave the client only with the owner's consent: cross-labelling
 * them posts them to every endpoint.
 */
export function refuseUnconsentedSharing(opts: RunClientOptions, plan: CrossLabelPlan): void {
  if (!opts.ownImages || plan.weight === 0 || plan.ownWeight === 0 || opts.shareOwnImages) {
    return;
  }
  throw new ClientError(
    `cross-labelling (weight ${plan.ownWeight} for the target's own images) would send its ${opts.ownImages.count} real images to the other networks' endpoints (POST /v1/label): allow it with --share-own-images (shareOwnImages: true), keep them here with --own-images-loss own-classes (ownImagesLoss: 'own-classes'; they learn only among the target's classes, within a point of sharing them on Fashion-MNIST, docs/RESULTS.md) or --cross-label-own 0 (they keep their own labels), or turn cross-labelling off with --cross-label 0`,
  );
}

/** With `own-classes`, the set's real images learn only which of `ownClasses` they are. */
export function withOwnImagesLoss(
  set: MergedSet,
  loss: OwnImagesLoss | undefined,
  ownClasses: readonly number[],
): MergedSet {
  if (loss !== 'own-classes' || !set.real) return set;
  return { ...set, withinClasses: { samples: set.real, classes: ownClasses } };
}

/**
 * The own images' cross-label weight when none is given: 0 for `own-classes` (they need no
 * other network's opinion, so they are sent nowhere); else undefined, i.e. the cross-label weight.
 */
export function defaultCrossLabelOwn(loss: OwnImagesLoss | undefined): number | undefined {
  return loss === 'own-classes' ? 0 : undefined;
}

/**
 * Whether the target's generated replay stays beside its own images when `keepReplay` is not
 * given: with `own-classes` it does, since it alone teaches their classes against the others'.
 */
export function defaultKeepReplay(loss: OwnImagesLoss | undefined): boolean {
  return loss === 'own-classes';
}
