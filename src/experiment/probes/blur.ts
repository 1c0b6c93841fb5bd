import { mergeSets } from '../../client/merge';
import { deriveSeed } from '../../core/rng';
import type { Dataset } from '../../data/dataset';
import { packets, paperFinetune, type Repeat, score } from './repeat';

/** Gaussian blur (amount < 0) or unsharp mask x + amount (x - blur) of single-channel images. */
export function filterImages(
  src: Uint8Array,
  n: number,
  h: number,
  w: number,
  sigma: number,
  amount = -1,
) {
  const r = Math.ceil(2.5 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) =>
    Math.exp(-((i - r) ** 2) / (2 * sigma ** 2)),
  );
  const sum = k.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(src.length);
  const tmp = new Float32Array(h * w);
  const at = (v: number, hi: number) => Math.min(hi - 1, Math.max(0, v));
  for (let m = 0; m < n; m++) {
    const o = m * h * w;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r]! * src[o + y * w + at(x + j, w)]!;
        tmp[y * w + x] = s / sum;
      }
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r]! * tmp[at(y + j, h) * w + x]!;
        const v = src[o + y * w + x]!;
        const f = amount < 0 ? s / sum : v + amount * (v - s / sum);
        out[o + y * w + x] = Math.max(0, Math.min(255, Math.round(f)));
      }
  }
  return out;
}

/** `none`, a blur of sigma V on every image (trained on and scored), or `sharpen-V` (training images only). */
export async function blurProbe(r: Repeat, value: string) {
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const [h, w] = merged.imageShape;
  if (value === 'none') return score(r, await paperFinetune(r, merged), merged.classes);
  if (value.startsWith('sharpen-')) {
    const images = filterImages(merged.images, merged.count, h, w, Number(value.slice(8)), 1);
    return score(r, await paperFinetune(r, { ...merged, images }), merged.classes);
  }
  const sigma = Number(value);
  const blur = (d: Dataset): Dataset => ({
    ...d,
    images: filterImages(d.images, d.count, h, w, sigma),
  });
  const images = filterImages(merged.images, merged.count, h, w, sigma);
  return score(r, await paperFinetune(r, { ...merged, images }), merged.classes, blur);
}
