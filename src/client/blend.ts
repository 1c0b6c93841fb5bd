import { createRng, permutation } from '../core/rng';
import { ClientError } from './errors';
import type { MergedSet } from './merge';

export interface BlendOptions {
  /** Blends to add per real image of the set (e.g. 1: as many blends as real images). */
  perRealImage: number;
  seed: number;
  /** The real image's share lambda is drawn uniformly from [min, max] (default 0.3..0.7). */
  min?: number;
  max?: number;
}

/**
 * Blends of the target's own real images with generated samples of the other networks'
 * classes, appended to a merged set. Each blend is lambda x a real image + (1 - lambda) x
 * a generated sample, its target the same mix of the two targets, and it counts as real
 * (`MergedSet.real`): it carries the owner's image, so cross-labelling sends it to other
 * networks only with the owner's consent, at the own images' weight. Cross-labelled, a blend
 * asks every network about an image with a real image's texture and another network's shape,
 * a region of input space that neither source alone covers. Shuffled into the set.
 */
export function addOwnBlends(set: MergedSet, opts: BlendOptions): MergedSet {
  const lo = opts.min ?? 0.3;
  const hi = opts.max ?? 0.7;
  if (!(opts.perRealImage > 0) || !(lo >= 0 && lo <= hi && hi <= 1)) {
    throw new ClientError(
      `blends: want perRealImage > 0 and 0 <= min <= max <= 1, got ${opts.perRealImage}, ${lo}..${hi}`,
    );
  }
  const real: number[] = [];
  const generated: number[] = [];
  for (let i = 0; i < set.count; i++) (set.real?.[i] === 1 ? real : generated).push(i);
  if (real.length === 0 || generated.length === 0) {
    throw new ClientError(
      "blends need both the target's own real images and generated samples in the set: give own images (--own-data) and at least one other network",
    );
  }
  const [h, w, c] = set.imageShape;
  const px = h * w * c;
  const u = set.classes.length;
  const added = Math.round(real.length * opts.perRealImage);
  const total = set.count + added;
  const images = new Uint8Array(total * px);
  const targets = new Float32Array(total * u);
  const flags = new Uint8Array(total);
  images.set(set.images.subarray(0, set.count * px));
  targets.set(set.targets.subarray(0, set.count * u));
  if (set.real) flags.set(set.real.subarray(0, set.count));
  const rng = createRng(opts.seed >>> 0);
  for (let k = 0; k < added; k++) {
    const a = real[rng.int(real.length)]!;
    const b = generated[rng.int(generated.length)]!;
    const lambda = lo + (hi - lo) * rng.next();
    const i = set.count + k;
    for (let p = 0; p < px; p++) {
      const v = lambda * set.images[a * px + p]! + (1 - lambda) * set.images[b * px + p]!;
      images[i * px + p] = Math.round(v);
    }
    for (let j = 0; j < u; j++) {
      targets[i * u + j] =
        lambda * set.targets[a * u + j]! + (1 - lambda) * set.targets[b * u + j]!;
    }
    flags[i] = 1;
  }
  // shuffle the blends in among the rest
  const order = permutation(total, rng);
  const outImages = new Uint8Array(total * px);
  const outTargets = new Float32Array(total * u);
  const outReal = new Uint8Array(total);
  for (let i = 0; i < total; i++) {
    const j = order[i]!;
    outImages.set(images.subarray(j * px, (j + 1) * px), i * px);
    outTargets.set(targets.subarray(j * u, (j + 1) * u), i * u);
    outReal[i] = flags[j]!;
  }
  return {
    ...set,
    count: total,
    images: outImages,
    targets: outTargets,
    real: outReal,
    sources: [
      ...set.sources,
      { source: 'blends:own+generated', networkId: 'blends', count: added },
    ],
  };
}
