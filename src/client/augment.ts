import type { Rng } from '../core/rng';

/**
 * The fine-tuning augmentations, each a pure function over flat image rows (NHWC, one image
 * per row): translation, horizontal mirroring, mixup, sharpness jitter, random erasing. The
 * schedule (finetune.ts) decides which run; a switched-off one draws nothing from the RNG, so
 * adding an augmentation never changes the runs that do not use it.
 */

/** Copy one image scaled to [0, 1], translated by (dy, dx) pixels, zero-filled at the edges. */
export function translateInto(
  dst: Float32Array,
  dstOffset: number,
  src: Uint8Array,
  srcOffset: number,
  h: number,
  w: number,
  c: number,
  dy: number,
  dx: number,
) {
  dst.fill(0, dstOffset, dstOffset + h * w * c);
  for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
    for (let x = Math.max(0, dx); x < Math.min(w, w + dx); x++) {
      for (let k = 0; k < c; k++) {
        dst[dstOffset + (y * w + x) * c + k] =
          src[srcOffset + ((y - dy) * w + (x - dx)) * c + k]! / 255;
      }
    }
  }
}

/** Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 by the boost x * U^(1/shape)). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * rng.next() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(a, a), folded to [0.5, 1] so the batch's own images dominate. */
export function mixupLambda(rng: Rng, alpha: number): number {
  const x = gamma(rng, alpha);
  const y = gamma(rng, alpha);
  const l = x / (x + y);
  return Math.max(l, 1 - l);
}

/** Blend rows i and perm[i] of an [n, d] array in place: lambda * a + (1 - lambda) * b. */
export function blendRows(a: Float32Array, n: number, d: number, perm: Int32Array, lambda: number) {
  const src = a.slice();
  for (let i = 0; i < n; i++) {
    const j = perm[i]!;
    for (let p = 0; p < d; p++)
      a[i * d + p] = lambda * src[i * d + p]! + (1 - lambda) * src[j * d + p]!;
  }
}

/** Mirror one H x W x C image left to right, in place. */
export function mirrorInPlace(a: Float32Array, offset: number, h: number, w: number, c: number) {
  for (let y = 0; y < h; y++) {
    const row = offset + y * w * c;
    for (let x = 0; x < w >> 1; x++) {
      const l = row + x * c;
      const r = row + (w - 1 - x) * c;
      for (let k = 0; k < c; k++) {
        const t = a[l + k]!;
        a[l + k] = a[r + k]!;
        a[r + k] = t;
      }
    }
  }
}

/** The 3x3 binomial blur [1 2 1]/4 in each direction, edges clamped. */
const BLUR_TAPS = [0.25, 0.5, 0.25] as const;

/**
 * Change one H x W x C image's sharpness in place: x + amount * (x - blur(x)), clipped to
 * [0, 1], where blur is the 3x3 binomial filter. amount > 0 sharpens (an unsharp mask),
 * -1 <= amount < 0 blends toward the blurred image. `scratch` holds at least 2 H W C floats.
 */
export function sharpnessInPlace(
  a: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  amount: number,
  scratch: Float32Array,
) {
  const px = h * w * c;
  const at = (v: number, hi: number) => (v < 0 ? 0 : v >= hi ? hi - 1 : v);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let j = -1; j <= 1; j++)
          s += BLUR_TAPS[j + 1]! * a[offset + (y * w + at(x + j, w)) * c + k]!;
        scratch[(y * w + x) * c + k] = s;
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let j = -1; j <= 1; j++)
          s += BLUR_TAPS[j + 1]! * scratch[(at(y + j, h) * w + x) * c + k]!;
        scratch[px + (y * w + x) * c + k] = s;
      }
  for (let p = 0; p < px; p++) {
    const v = a[offset + p]!;
    const f = v + amount * (v - scratch[px + p]!);
    a[offset + p] = Math.max(0, Math.min(1, f));
  }
}

/**
 * Random erasing (Zhong et al. 2020): one rectangle of 2-33 % of the image's area, aspect
 * ratio between 1/3 and 3 (log-uniform), filled with uniform noise in [0, 1), in place.
 */
export function eraseInPlace(
  a: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  rng: Rng,
) {
  const area = h * w * (0.02 + 0.31 * rng.next());
  const ratio = Math.exp(Math.log(3) * (2 * rng.next() - 1));
  const eh = Math.max(1, Math.min(h, Math.round(Math.sqrt(area * ratio))));
  const ew = Math.max(1, Math.min(w, Math.round(Math.sqrt(area / ratio))));
  const y0 = rng.int(h - eh + 1);
  const x0 = rng.int(w - ew + 1);
  for (let y = y0; y < y0 + eh; y++)
    for (let x = x0; x < x0 + ew; x++)
      for (let k = 0; k < c; k++) a[offset + (y * w + x) * c + k] = rng.next();
}
