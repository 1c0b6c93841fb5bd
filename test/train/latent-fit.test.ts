import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/core/rng';
import { kMeans } from '../../src/train/kmeans';
import type { ClassCodes } from '../../src/train/latent-codes';
import { fitClassMixtures, fitClassPriors } from '../../src/train/latent-fit';

/** `n` 2-d codes per blob around each centre, with posterior variance `v`. */
function blobs(centres: number[][], n: number, spread: number, v: number, seed = 1): ClassCodes {
  const rng = createRng(seed);
  const d = centres[0]!.length;
  const means = new Float32Array(centres.length * n * d);
  centres.forEach((c, b) => {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < d; j++) means[(b * n + i) * d + j] = c[j]! + spread * rng.normal();
  });
  return {
    classId: 7,
    means,
    variances: new Float32Array(means.length).fill(v),
    count: centres.length * n,
    latentSize: d,
  };
}

describe('kMeans', () => {
  it('separates well-apart blobs, the same way for the same seed', () => {
    const codes = blobs(
      [
        [-10, 0],
        [10, 0],
        [0, 10],
      ],
      50,
      0.5,
      0,
    );
    const a = kMeans(codes.means, 2, 3, createRng(3), 25);
    const b = kMeans(codes.means, 2, 3, createRng(3), 25);
    expect(a).toEqual(b);
    for (let blob = 0; blob < 3; blob++) {
      const labels = new Set(a.slice(blob * 50, blob * 50 + 50));
      expect(labels.size).toBe(1);
    }
    expect(new Set(a).size).toBe(3);
  });
});

describe('fitClassMixtures', () => {
  const codes = blobs(
    [
      [-10, 0],
      [10, 0],
    ],
    100,
    1,
    0.25,
  );

  it('puts one component on each mode, where one Gaussian would sit between them', () => {
    const [prior] = fitClassPriors([codes]);
    expect(Math.abs(prior!.mean[0]!)).toBeLessThan(1);
    expect(prior!.std[0]!).toBeGreaterThan(9);
    const [mixture] = fitClassMixtures([codes], { components: 2, minCount: 10, seed: 5 });
    expect(mixture!.classId).toBe(7);
    const xs = mixture!.components.map((c) => c.mean[0]!).sort((p, q) => p - q);
    expect(xs[0]).toBeCloseTo(-10, 0);
    expect(xs[1]).toBeCloseTo(10, 0);
    for (const c of mixture!.components) {
      expect(c.weight).toBeCloseTo(0.5, 5);
      expect(c.count).toBe(100);
      // spread 1 plus posterior variance 0.25
      expect(c.std[0]!).toBeGreaterThan(0.9);
      expect(c.std[0]!).toBeLessThan(1.4);
    }
  });

  it('never keeps a component behind fewer images than minCount', () => {
    const [few] = fitClassMixtures([codes], { components: 16, minCount: 80, seed: 5 });
    expect(few!.components.length).toBeLessThanOrEqual(2);
    for (const c of few!.components) expect(c.count).toBeGreaterThanOrEqual(80);
    expect(few!.components.reduce((s, c) => s + c.count, 0)).toBe(200);
    const [one] = fitClassMixtures([codes], { components: 16, minCount: 500, seed: 5 });
    expect(one!.components).toHaveLength(1);
    expect(one!.components[0]!.weight).toBe(1);
  });
});
