import type { ImageShape } from '../core/manifest';
import { createRng, permutation } from '../core/rng';
import { ClientError, EndpointError } from './errors';

/** The samples one network contributes: images with soft labels over its own class ids. */
export interface SoftSet {
  /** Where it came from (endpoint URL, or `replay:<network>` for the target's own). */
  source: string;
  networkId: string;
  classIds: readonly number[];
  imageShape: ImageShape;
  count: number;
  images: Uint8Array;
  /** [count, classIds.length] */
  softLabels: Float32Array;
}

/** The merged training set: every source's soft labels placed into the union's columns. */
export interface MergedSet {
  /** Ascending union of class ids; column k of `targets` is classes[k]. */
  classes: number[];
  imageShape: ImageShape;
  count: number;
  images: Uint8Array;
  /** [count, classes.length], rows sum to 1. */
  targets: Float32Array;
  /** Samples per source, in input order. */
  sources: { source: string; networkId: string; count: number }[];
}

/**
 * Check that sources agree on the image shape and that no two networks claim the same
 * class (the paper's setting: disjoint classes). With `allowOverlap`, shared classes simply
 * share a column.
 */
export function checkSources(sets: readonly SoftSet[], opts: { allowOverlap?: boolean } = {}) {
  const first = sets[0];
  if (!first) throw new ClientError('nothing to merge: no packets and no replay set');
  const owner = new Map<number, SoftSet>();
  for (const s of sets) {
    if (s.imageShape.join('x') !== first.imageShape.join('x')) {
      throw new EndpointError(
        'shape-mismatch',
        s.source,
        `images are ${s.imageShape.join('x')} but ${first.source}'s are ${first.imageShape.join('x')}`,
      );
    }
    for (const c of s.classIds) {
      const prev = owner.get(c);
      if (prev && prev.networkId !== s.networkId && !opts.allowOverlap) {
        throw new EndpointError(
          'class-clash',
          s.source,
          `network "${s.networkId}" claims class ${c}, which "${prev.networkId}" (${prev.source}) also claims`,
        );
      }
      owner.set(c, s);
    }
  }
}

/**
 * Merge soft sets into one shuffled training set over the union of classes. Each sample's
 * soft label (over its network's classes) goes into the union's columns for those classes;
 * the other columns are 0 (a network says nothing about classes it never saw).
 * `extraClasses` adds columns no source covers (the target's, when it has no replay set).
 */
export function mergeSets(
  sets: readonly SoftSet[],
  opts: { seed: number; allowOverlap?: boolean; extraClasses?: readonly number[] },
): MergedSet {
  checkSources(sets, opts);
  const classes = [
    ...new Set([...sets.flatMap((s) => s.classIds), ...(opts.extraClasses ?? [])]),
  ].sort((a, b) => a - b);
  const u = classes.length;
  const col = new Map(classes.map((c, k) => [c, k]));
  const imageShape = sets[0]!.imageShape;
  const px = imageShape[0] * imageShape[1] * imageShape[2];
  const total = sets.reduce((a, s) => a + s.count, 0);
  // gather in source order, then shuffle with a seeded permutation
  const srcOf = new Int32Array(total);
  const rowOf = new Int32Array(total);
  let n = 0;
  sets.forEach((s, si) => {
    for (let i = 0; i < s.count; i++) {
      srcOf[n] = si;
      rowOf[n++] = i;
    }
  });
  const order = permutation(total, createRng(opts.seed >>> 0));
  const images = new Uint8Array(total * px);
  const targets = new Float32Array(total * u);
  for (let i = 0; i < total; i++) {
    const j = order[i]!;
    const s = sets[srcOf[j]!]!;
    const r = rowOf[j]!;
    images.set(s.images.subarray(r * px, (r + 1) * px), i * px);
    const k = s.classIds.length;
    let sum = 0;
    for (let c = 0; c < k; c++) sum += s.softLabels[r * k + c]!;
    for (let c = 0; c < k; c++) {
      const t = i * u + col.get(s.classIds[c]!)!;
      targets[t] = targets[t]! + (sum > 0 ? s.softLabels[r * k + c]! / sum : 1 / k);
    }
  }
  return {
    classes,
    imageShape,
    count: total,
    images,
    targets,
    sources: sets.map((s) => ({ source: s.source, networkId: s.networkId, count: s.count })),
  };
}
