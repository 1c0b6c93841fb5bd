import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/idx';
import {
  networkIds,
  parsePartition,
  randomPartition,
  selectClasses,
  validatePartition,
} from '../../src/data/partition';

const TEN = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

describe('class partitions', () => {
  it('draws the paper 5/5 split from a seed, reproducibly', () => {
    const p = randomPartition(TEN, 2, 42);
    expect(p.map((g) => g.length)).toEqual([5, 5]);
    expect(p.flat().sort((a, b) => a - b)).toEqual(TEN);
    expect(randomPartition(TEN, 2, 42)).toEqual(p);
    expect(randomPartition(TEN, 2, 43)).not.toEqual(p);
  });

  it('splits into any number of networks', () => {
    const p = randomPartition(TEN, 3, 1);
    expect(p.map((g) => g.length).sort()).toEqual([3, 3, 4]);
    expect(() => randomPartition(TEN, 11, 1)).toThrow(/cannot split 10 classes into 11/);
  });

  it('parses and validates an explicit partition', () => {
    expect(validatePartition(parsePartition('2,0,1/3,4,5,6/7,8,9'), TEN)).toEqual([
      [0, 1, 2],
      [3, 4, 5, 6],
      [7, 8, 9],
    ]);
    expect(() => parsePartition('0,1/x')).toThrow(/network 2 has "x"/);
    expect(() => parsePartition('0,1//2')).toThrow(/network 2 has ""/);
    expect(() =>
      validatePartition(
        [
          [0, 1],
          [1, 2],
        ],
        TEN,
      ),
    ).toThrow(/class 1 is in network 1 and network 2/);
    expect(() => validatePartition([[0, 12]], TEN)).toThrow(/class 12 .* does not occur/);
    expect(() => validatePartition([[0], []], TEN)).toThrow(/network 2 has no classes/);
  });

  it('selects the samples of some classes', () => {
    const ds: Dataset = {
      name: 't',
      images: new Uint8Array([10, 11, 20, 21, 30, 31]),
      labels: new Uint8Array([1, 2, 1]),
      count: 3,
      imageShape: [1, 2, 1],
    };
    const s = selectClasses(ds, [1]);
    expect(s.count).toBe(2);
    expect([...s.images]).toEqual([10, 11, 30, 31]);
    expect(networkIds(3)).toEqual(['net-a', 'net-b', 'net-c']);
  });
});
