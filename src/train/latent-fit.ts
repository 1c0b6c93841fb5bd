import type { LatentGaussian, LatentMixture, MixtureComponent } from '../core/manifest';
import { createRng } from '../core/rng';
import { kMeans, nearestCentre } from './kmeans';
import type { ClassCodes } from './latent-codes';

/** Diagonal Gaussian of the rows `members` of `codes`: spread of the means + mean posterior variance. */
function gaussianOf(
  codes: ClassCodes,
  members: ArrayLike<number>,
): { mean: number[]; std: number[] } {
  const d = codes.latentSize;
  const n = Math.max(1, members.length);
  const sum = new Float64Array(d);
  const sumSq = new Float64Array(d);
  const sumVar = new Float64Array(d);
  for (let k = 0; k < members.length; k++) {
    const row = members[k]! * d;
    for (let j = 0; j < d; j++) {
      const a = codes.means[row + j]!;
      sum[j]! += a;
      sumSq[j]! += a * a;
      sumVar[j]! += codes.variances[row + j]!;
    }
  }
  const mean = Array.from(sum, (s) => s / n);
  const std = mean.map((mu, j) => {
    const spread = Math.max(0, sumSq[j]! / n - mu * mu);
    return Math.sqrt(spread + sumVar[j]! / n) || 1e-3;
  });
  return { mean, std };
}

const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

/**
 * One diagonal Gaussian per class fitted to its training codes: the mean of z_mean, and a std
 * that adds the average posterior variance to the spread of the means. The `class-prior`
 * generator samples from these to honour per-class quotas.
 */
export function fitClassPriors(codes: readonly ClassCodes[]): LatentGaussian[] {
  return codes.map((c) => ({ classId: c.classId, ...gaussianOf(c, all(c.count)), count: c.count }));
}

export interface MixtureFitOptions {
  /** Most components per class. */
  components: number;
  /**
   * Fewest training images behind one component: a component is an average of at least this
   * many codes, so no single private image is stored (fewer images: fewer components).
   */
  minCount: number;
  seed: number;
  iterations?: number;
}

/** Stored values keep 6 significant digits: the manifest stays small and reads back exactly. */
const stored = (x: number): number => Number(x.toPrecision(6));

/**
 * A diagonal Gaussian mixture per class (k-means on the z_mean codes, then each cluster's own
 * Gaussian): samples follow the aggregate posterior's modes, which one Gaussian per class
 * blurs together. The `class-mixture` generator samples from these.
 */
export function fitClassMixtures(
  codes: readonly ClassCodes[],
  opts: MixtureFitOptions,
): LatentMixture[] {
  return codes.map((c, i) => {
    const k = Math.max(1, Math.min(opts.components, Math.floor(c.count / opts.minCount)));
    const rng = createRng((opts.seed + i * 0x9e3779b1) >>> 0);
    const assignment = kMeans(c.means, c.latentSize, k, rng, opts.iterations ?? 25);
    const groups = Array.from({ length: k }, () => [] as number[]);
    assignment.forEach((g, row) => {
      groups[g]!.push(row);
    });
    // Members of clusters below the floor move to the nearest kept cluster's centre.
    let kept = groups.filter((g) => g.length >= opts.minCount);
    const orphans = groups.filter((g) => g.length < opts.minCount).flat();
    if (kept.length === 0) kept = [Array.from(all(c.count))];
    else if (orphans.length > 0) {
      const centres = Float64Array.from(kept.flatMap((g) => gaussianOf(c, g).mean));
      const adopted = orphans.map((row) => nearestCentre(c.means, row, centres, c.latentSize));
      orphans.forEach((row, o) => {
        kept[adopted[o]!]!.push(row);
      });
    }
    const components: MixtureComponent[] = kept.map((members) => {
      const g = gaussianOf(c, members);
      return {
        weight: stored(members.length / c.count),
        mean: g.mean.map(stored),
        std: g.std.map((s) => Math.max(1e-3, stored(s))),
        count: members.length,
      };
    });
    return { classId: c.classId, components };
  });
}
