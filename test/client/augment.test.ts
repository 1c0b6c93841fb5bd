import { describe, expect, it } from 'vitest';
import {
  blendRows,
  eraseInPlace,
  mirrorInPlace,
  mixupLambda,
  sharpnessInPlace,
  translateInto,
} from '../../src/client/augment';
import { createRng, permutation } from '../../src/core/rng';

describe('translateInto', () => {
  it('moves an image by whole pixels and zero-fills the edges', () => {
    const src = new Uint8Array(3 * 4); // 3 x 4, one channel
    src[1 * 4 + 2] = 255; // (y 1, x 2)
    src[0] = 51; // (0, 0)
    const dst = new Float32Array(3 * 4).fill(9);
    translateInto(dst, 0, src, 0, 3, 4, 1, 1, -1);
    const expected = new Float32Array(12);
    expected[2 * 4 + 1] = 1; // (1, 2) -> (2, 1)
    // (0, 0) -> (1, -1): off the image
    expect(Array.from(dst)).toEqual(Array.from(expected));
    translateInto(dst, 0, src, 0, 3, 4, 1, 0, 0);
    expect(dst[0]).toBeCloseTo(0.2);
    expect(dst[1 * 4 + 2]).toBe(1);
  });
});

describe('mirrorInPlace', () => {
  it('mirrors each row left to right, channels kept together, other images untouched', () => {
    // Two images of 2 x 3 x 2 (h, w, c); the second is mirrored.
    const img = (base: number) => Array.from({ length: 12 }, (_, i) => base + i);
    const a = new Float32Array([...img(0), ...img(100)]);
    mirrorInPlace(a, 12, 2, 3, 2);
    expect(Array.from(a.subarray(0, 12))).toEqual(img(0));
    // row 0: pixels (100,101) (102,103) (104,105) -> (104,105) (102,103) (100,101)
    expect(Array.from(a.subarray(12))).toEqual([
      104, 105, 102, 103, 100, 101, 110, 111, 108, 109, 106, 107,
    ]);
    mirrorInPlace(a, 12, 2, 3, 2);
    expect(Array.from(a.subarray(12))).toEqual(img(100));
  });

  it('an even width swaps every column', () => {
    const a = new Float32Array([1, 2, 3, 4]);
    mirrorInPlace(a, 0, 1, 4, 1);
    expect(Array.from(a)).toEqual([4, 3, 2, 1]);
  });
});

describe('mixup', () => {
  it('lambda ~ Beta(a, a) folded into [0.5, 1], seeded', () => {
    const rng = createRng(5);
    const xs = Array.from({ length: 2000 }, () => mixupLambda(rng, 0.4));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1);
    // Beta(0.4, 0.4) puts most mass near the ends: the folded mean is about 0.81
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.76);
    expect(mean).toBeLessThan(0.86);
    const again = createRng(5);
    expect(mixupLambda(again, 0.4)).toBe(xs[0]);
  });

  it('blendRows mixes row i with row perm[i]', () => {
    const a = new Float32Array([0, 0, 10, 20]);
    const perm = permutation(2, createRng(1));
    blendRows(a, 2, 2, perm, 0.75);
    const other = (i: number) => perm[i]!;
    const row = (i: number) => [i === 0 ? 0 : 10, i === 0 ? 0 : 20];
    for (const i of [0, 1]) {
      const [x, y] = row(i);
      const [u, v] = row(other(i));
      expect(a[i * 2]).toBeCloseTo(0.75 * x! + 0.25 * u!);
      expect(a[i * 2 + 1]).toBeCloseTo(0.75 * y! + 0.25 * v!);
    }
  });
});

describe('sharpnessInPlace', () => {
  const scratch = new Float32Array(2 * 25);
  // 5 x 5, one channel: a vertical edge between columns 1 and 2
  const edge = () => Float32Array.from({ length: 25 }, (_, i) => (i % 5 >= 2 ? 0.8 : 0.2));

  it('amount 0 and flat images stay as they are', () => {
    const a = edge();
    sharpnessInPlace(a, 0, 5, 5, 1, 0, scratch);
    expect(Array.from(a)).toEqual(Array.from(edge()));
    const flat = new Float32Array(25).fill(0.4);
    sharpnessInPlace(flat, 0, 5, 5, 1, 3, scratch);
    for (const v of flat) expect(v).toBeCloseTo(0.4, 6);
  });

  it('-1 is the 3x3 binomial blur, > 0 steepens the edge, results stay in [0, 1]', () => {
    const blurred = edge();
    sharpnessInPlace(blurred, 0, 5, 5, 1, -1, scratch);
    // row 0: columns 0..4 of [.2 .2 .8 .8 .8] blurred by [1 2 1]/4 with clamped edges
    expect(Array.from(blurred.subarray(0, 5)).map((v) => +v.toFixed(4))).toEqual([
      0.2, 0.35, 0.65, 0.8, 0.8,
    ]);
    const sharp = edge();
    sharpnessInPlace(sharp, 0, 5, 5, 1, 1, scratch);
    expect(sharp[1]).toBeCloseTo(0.05, 6); // 0.2 + (0.2 - 0.35)
    expect(sharp[2]).toBeCloseTo(0.95, 6);
    const strong = edge();
    sharpnessInPlace(strong, 0, 5, 5, 1, 4, scratch);
    expect(strong[1]).toBe(0);
    expect(strong[2]).toBe(1);
  });

  it('changes only the image at its offset', () => {
    const two = new Float32Array([...edge(), ...edge()]);
    sharpnessInPlace(two, 25, 5, 5, 1, 1, scratch);
    expect(Array.from(two.subarray(0, 25))).toEqual(Array.from(edge()));
    expect(two[26]).toBeCloseTo(0.05, 6);
  });
});

describe('eraseInPlace', () => {
  it('fills one rectangle of 2-33 % of the image with noise, the rest and other images untouched', () => {
    const rng = createRng(7);
    const h = 28;
    const w = 28;
    const c = 2;
    for (let trial = 0; trial < 200; trial++) {
      const a = new Float32Array(2 * h * w * c).fill(-1);
      eraseInPlace(a, h * w * c, h, w, c, rng);
      expect(a.subarray(0, h * w * c).every((v) => v === -1)).toBe(true);
      const img = a.subarray(h * w * c);
      const changed: [number, number][] = [];
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const px = img.subarray((y * w + x) * c, (y * w + x + 1) * c);
          if (px[0] !== -1) {
            expect(px.every((v) => v >= 0 && v < 1)).toBe(true);
            changed.push([y, x]);
          } else expect(px.every((v) => v === -1)).toBe(true);
        }
      const ys = changed.map(([y]) => y);
      const xs = changed.map(([, x]) => x);
      const eh = Math.max(...ys) - Math.min(...ys) + 1;
      const ew = Math.max(...xs) - Math.min(...xs) + 1;
      expect(changed.length).toBe(eh * ew); // one full rectangle
      expect(changed.length).toBeGreaterThanOrEqual(Math.floor(0.02 * h * w) - 4);
      expect(changed.length).toBeLessThanOrEqual(Math.ceil(0.33 * h * w) + 2 * h);
    }
  });
});
