import { describe, expect, it } from 'vitest';
import { oneHotSet, type SoftSet, withTemperature } from '../../src/client/merge';

const set: SoftSet = {
  source: 's',
  networkId: 'net-a',
  classIds: [1, 4],
  imageShape: [1, 1, 1],
  count: 2,
  images: new Uint8Array([10, 20]),
  softLabels: new Float32Array([0.9, 0.1, 0.5, 0.5]),
};

describe('soft label temperature and one-hot sets', () => {
  it('T = 1 is the set itself; T > 1 softens, T < 1 sharpens; rows sum to 1', () => {
    expect(withTemperature(set, 1)).toBe(set);
    const soft = withTemperature(set, 2).softLabels;
    expect(soft[0]).toBeCloseTo(0.75, 5); // sqrt(.9) / (sqrt(.9) + sqrt(.1))
    expect(soft[0]! + soft[1]!).toBeCloseTo(1, 6);
    expect(soft[2]).toBeCloseTo(0.5, 6);
    const sharp = withTemperature(set, 0.5).softLabels;
    expect(sharp[0]).toBeCloseTo(0.81 / 0.82, 5);
    expect(() => withTemperature(set, 0)).toThrow(/want > 0/);
  });

  it('one-hot set of real images: labels placed in the network columns, foreign labels named', () => {
    const m = {
      networkId: 'net-a',
      classes: [1, 4],
      dataset: {
        name: 'x',
        imageShape: [1, 1, 1] as [number, number, number],
        trainCount: 2,
        testCount: 0,
      },
    };
    const data = {
      images: new Uint8Array([5, 6, 7]),
      labels: new Uint8Array([4, 1, 4]),
      count: 3,
      imageShape: [1, 1, 1] as [number, number, number],
    };
    const s = oneHotSet('own:net-a', m, data);
    expect(Array.from(s.softLabels)).toEqual([0, 1, 1, 0, 0, 1]);
    expect(Array.from(s.images)).toEqual([5, 6, 7]);
    expect(s.real).toBe(true);
    expect(() => oneHotSet('own', m, { ...data, labels: new Uint8Array([4, 2, 1]) })).toThrow(
      /image 1 has label 2, not a class of net-a/,
    );
  });
});
