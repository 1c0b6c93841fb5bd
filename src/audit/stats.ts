/**
 * The memorisation statistics, pure: given each generated sample's distance to its nearest
 * training image and the same distance for real held-out images, how many samples are closer
 * to the training set than (almost) any unseen real image is.
 */
export interface HeldOutStats {
  count: number;
  /** Distances at the held-out 1st and 5th percentiles, and the median. */
  p1: number;
  p5: number;
  median: number;
}

export interface SampleStats {
  count: number;
  /** Share of samples strictly closer than the held-out 1st / 5th percentile. */
  shareBelowP1: number;
  shareBelowP5: number;
  median: number;
  min: number;
}

/** Linear-interpolated quantile of ascending `sorted` (q in [0, 1]). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of nothing');
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

const ascending = (d: ArrayLike<number>) => Float64Array.from(d).sort();

export function heldOutStats(distances: ArrayLike<number>): HeldOutStats {
  const s = ascending(distances);
  return {
    count: s.length,
    p1: quantile(s, 0.01),
    p5: quantile(s, 0.05),
    median: quantile(s, 0.5),
  };
}

export function sampleStats(distances: ArrayLike<number>, heldOut: HeldOutStats): SampleStats {
  const s = ascending(distances);
  let b1 = 0;
  let b5 = 0;
  for (const d of s) {
    if (d < heldOut.p1) b1++;
    if (d < heldOut.p5) b5++;
  }
  return {
    count: s.length,
    shareBelowP1: b1 / s.length,
    shareBelowP5: b5 / s.length,
    median: quantile(s, 0.5),
    min: s[0]!,
  };
}

/** Indices of the `k` smallest distances, closest first. */
export function closest(distances: ArrayLike<number>, k: number): number[] {
  return Array.from(distances, (d, i) => [d, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}
