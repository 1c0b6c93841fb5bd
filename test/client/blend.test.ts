import { describe, expect, it } from 'vitest';
import { addOwnBlends } from '../../src/client/blend';
import { ClientError } from '../../src/client/errors';
import type { MergedSet } from '../../src/client/merge';

/** 4 real images (every pixel 200, class 0) and 6 generated ones (pixel 0, class 1), 2x2x1. */
function set(): MergedSet {
  const real = new Uint8Array(10);
  const images = new Uint8Array(40);
  const targets = new Float32Array(20);
  for (let i = 0; i < 10; i++) {
    const isReal = i < 4;
    real[i] = isReal ? 1 : 0;
    images.fill(isReal ? 200 : 0, i * 4, i * 4 + 4);
    targets[i * 2 + (isReal ? 0 : 1)] = 1;
  }
  return {
    classes: [0, 1],
    imageShape: [2, 2, 1],
    count: 10,
    images,
    targets,
    sources: [{ source: 'x', networkId: 'n', count: 10 }],
    real,
  };
}

describe('blends of own images with generated samples', () => {
  it('adds perRealImage blends per real image, each mixing image and target by one lambda', () => {
    const out = addOwnBlends(set(), { perRealImage: 2, seed: 7 });
    expect(out.count).toBe(18);
    expect(out.sources.at(-1)).toEqual({
      source: 'blends:own+generated',
      networkId: 'blends',
      count: 8,
    });
    let blends = 0;
    let realCount = 0;
    for (let i = 0; i < out.count; i++) {
      const v = out.images[i * 4]!;
      const t = [out.targets[i * 2]!, out.targets[i * 2 + 1]!];
      expect(t[0]! + t[1]!).toBeCloseTo(1, 6);
      if (out.real![i] === 1) realCount++;
      if (v === 0 || v === 200) continue;
      blends++;
      // lambda in [0.3, 0.7]; the image is lambda x 200, the target lambda x class 0
      expect(v).toBeGreaterThanOrEqual(60);
      expect(v).toBeLessThanOrEqual(140);
      expect(t[0]!).toBeCloseTo(v / 200, 2);
      expect(out.real![i]).toBe(1); // a blend carries the owner's image
    }
    expect(blends).toBe(8);
    expect(realCount).toBe(12);
    // shuffled in, not appended
    expect(Array.from(out.real!.subarray(10)).every((r) => r === 1)).toBe(false);
  });

  it('is seeded', () => {
    const a = addOwnBlends(set(), { perRealImage: 1, seed: 3 });
    const b = addOwnBlends(set(), { perRealImage: 1, seed: 3 });
    expect(a.images).toEqual(b.images);
    expect(a.targets).toEqual(b.targets);
  });

  it('refuses a set without real images, and bad ranges, saying what to give', () => {
    const { real: _real, ...noReal } = set();
    expect(() => addOwnBlends(noReal, { perRealImage: 1, seed: 1 })).toThrow(/--own-data/);
    expect(() => addOwnBlends(set(), { perRealImage: 1, seed: 1, min: 0.8, max: 0.2 })).toThrow(
      ClientError,
    );
  });
});
