import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, permutation } from '../../src/core/rng';

describe('createRng', () => {
  it('gives the same stream for the same seed and a different one for another', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const sa = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(sa);
  });

  it('draws standard normals with mean ~0 and variance ~1', () => {
    const r = createRng(1);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('rejects seeds outside uint32', () => {
    expect(() => createRng(-1)).toThrow(/seed/);
    expect(() => createRng(2 ** 32)).toThrow(/seed/);
    expect(() => createRng(1.5)).toThrow(/seed/);
  });

  it('permutes every index exactly once', () => {
    const p = permutation(100, createRng(3));
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(deriveSeed(1, 'net-a')).not.toBe(deriveSeed(1, 'net-b'));
  });
});
