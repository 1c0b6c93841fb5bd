import type { ImageShape, Manifest } from '../core/manifest';
import { createRng, permutation } from '../core/rng';
import { ClientError, EndpointError } from './errors';
import type { LabelledImages } from './evaluate';

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
  /** Real images (their labels are ground truth), not generated samples. */
  real?: boolean;
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
  /** Per sample, 1 where it is a real image (a `real` source's); absent: none is. */
  real?: Uint8Array;
  /**
   * The flagged samples learn only which of `classes` they are: their loss is the
   * cross-entropy over those columns, probabilities renormalised over them, so they never
   * teach that an image is none of the other classes (src/client/finetune.ts).
   */
  withinClasses?: { samples: Uint8Array; classes: readonly number[] };
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
  const real = sets.some((s) => s.real) ? new Uint8Array(total) : undefined;
  for (let i = 0; i < total; i++) {
    const j = order[i]!;
    const s = sets[srcOf[j]!]!;
    const r = rowOf[j]!;
    if (real && s.real) real[i] = 1;
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
    ...(real ? { real } : {}),
  };
}

/** Soft labels p^(1/T), renormalised per sample (T = 1: the set itself). */
export function withTemperature(set: SoftSet, temperature: number): SoftSet {
  if (temperature === 1) return set;
  if (!(temperature > 0)) throw new ClientError(`label temperature ${temperature}: want > 0`);
  const k = set.classIds.length;
  const out = new Float32Array(set.count * k);
  for (let i = 0; i < set.count; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = Math.max(set.softLabels[i * k + j]!, 1e-12) ** (1 / temperature);
      out[i * k + j] = v;
      sum += v;
    }
    for (let j = 0; j < k; j++) out[i * k + j]! /= sum;
  }
  return { ...set, softLabels: out };
}

/** Real labelled images of a network's own classes as a soft set with one-hot labels. */
export function oneHotSet(
  source: string,
  manifest: Pick<Manifest, 'networkId' | 'classes' | 'dataset'>,
  data: LabelledImages,
): SoftSet {
  const k = manifest.classes.length;
  const col = new Map(manifest.classes.map((c, i) => [c, i]));
  const softLabels = new Float32Array(data.count * k);
  for (let i = 0; i < data.count; i++) {
    const j = col.get(data.labels[i]!);
    if (j === undefined) {
      throw new ClientError(
        `${source}: image ${i} has label ${data.labels[i]}, not a class of ${manifest.networkId}`,
      );
    }
    softLabels[i * k + j] = 1;
  }
  const px = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
  return {
    source,
    networkId: manifest.networkId,
    classIds: [...manifest.classes],
    imageShape: data.imageShape,
    count: data.count,
    images: data.images.subarray(0, data.count * px),
    softLabels,
    real: true,
  };
}
