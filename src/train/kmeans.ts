import type { Rng } from '../core/rng';

function distanceSq(
  a: Float32Array,
  ai: number,
  b: Float64Array | Float32Array,
  bi: number,
  d: number,
): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = a[ai + j]! - b[bi + j]!;
    s += t * t;
  }
  return s;
}

/** Index of the centre (row-major [k, d] `centres`) nearest to row `row` of `points`. */
export function nearestCentre(
  points: Float32Array,
  row: number,
  centres: Float64Array,
  d: number,
): number {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  for (let c = 0; c < centres.length / d; c++) {
    const dist = distanceSq(points, row * d, centres, c * d, d);
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best;
}

/**
 * Lloyd's k-means with k-means++ seeding from `rng` (so a seed fixes the result).
 * `points` is row-major [n, d]; returns each point's cluster index in [0, k).
 */
export function kMeans(
  points: Float32Array,
  d: number,
  k: number,
  rng: Rng,
  iterations: number,
): Int32Array {
  const n = d === 0 ? 0 : points.length / d;
  const assignment = new Int32Array(n);
  if (n === 0 || k <= 1) return assignment;
  const centres = new Float64Array(k * d);
  // k-means++: each new centre drawn with probability proportional to its squared distance.
  const nearest = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  let pick = rng.int(n);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) centres[c * d + j] = points[pick * d + j]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i]!, distanceSq(points, i * d, centres, c * d, d));
      total += nearest[i]!;
    }
    let r = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i]!;
      if (r < 0) {
        pick = i;
        break;
      }
    }
  }
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const best = nearestCentre(points, i, centres, d);
      if (assignment[i] !== best || it === 0) moved++;
      assignment[i] = best;
    }
    if (moved === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i]!;
      counts[c]!++;
      for (let j = 0; j < d; j++) sums[c * d + j]! += points[i * d + j]!;
    }
    // An emptied centre keeps its place; the others move to their members' mean.
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      for (let j = 0; j < d; j++) centres[c * d + j] = sums[c * d + j]! / counts[c]!;
    }
  }
  return assignment;
}
