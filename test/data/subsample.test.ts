import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/idx';
import { concatDatasets, splitValidation, subsample } from '../../src/data/subsample';

function numbered(n: number): Dataset {
  // image i is 4 bytes all equal to i % 256; its label is i % 10
  const images = new Uint8Array(n * 4).map((_, p) => Math.floor(p / 4) % 256);
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return { name: 't', images, labels, count: n, imageShape: [2, 2, 1] };
}
const ids = (d: Dataset) => Array.from({ length: d.count }, (_, i) => d.images[i * 4]!);

describe('subsample and validation split', () => {
  it('subsample: seeded, original order, the whole set when under the cap', () => {
    const d = numbered(100);
    const a = subsample(d, 30, 7);
    expect(a.count).toBe(30);
    expect(ids(a)).toEqual([...ids(a)].sort((x, y) => x - y));
    expect(ids(subsample(d, 30, 7))).toEqual(ids(a));
    expect(ids(subsample(d, 30, 8))).not.toEqual(ids(a));
    expect(subsample(d, 200, 7)).toBe(d);
    expect(subsample(d, undefined, 7)).toBe(d);
    expect(Array.from(a.labels)).toEqual(ids(a).map((i) => i % 10));
  });

  it('splitValidation: disjoint, complete, seeded; fraction 0 keeps everything', () => {
    const d = numbered(200);
    const { train, validation } = splitValidation(d, 0.1, 3);
    expect(validation.count).toBe(20);
    expect(train.count).toBe(180);
    const all = [...ids(train), ...ids(validation)].sort((x, y) => x - y);
    expect(all).toEqual(ids(d));
    expect(ids(splitValidation(d, 0.1, 3).validation)).toEqual(ids(validation));
    const none = splitValidation(d, 0, 3);
    expect(none.train).toBe(d);
    expect(none.validation.count).toBe(0);
    expect(() => splitValidation(d, 1, 3)).toThrow(/0 <= f < 1/);
  });

  it('concatDatasets keeps every image and label in order', () => {
    const a = subsample(numbered(50), 10, 1);
    const b = subsample(numbered(60), 5, 2);
    const c = concatDatasets([a, b]);
    expect(c.count).toBe(15);
    expect(ids(c)).toEqual([...ids(a), ...ids(b)]);
    expect(Array.from(c.labels)).toEqual([...Array.from(a.labels), ...Array.from(b.labels)]);
  });
});
