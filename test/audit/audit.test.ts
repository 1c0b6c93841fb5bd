import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditFailures, runAudit } from '../../src/audit/audit';
import { referenceSet } from '../../src/audit/nearest';
import { sharedSamples } from '../../src/audit/samples';
import { closest, heldOutStats, quantile, sampleStats } from '../../src/audit/stats';
import { type LoadedNetwork, loadNetwork } from '../../src/core/model-folder';
import { createRng } from '../../src/core/rng';
import type { Dataset, DatasetPair } from '../../src/data/idx';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { writeTinyNetwork } from '../fixtures/tiny-network';

beforeAll(async () => {
  await initWasmBackend();
});

function noise(count: number, pixels: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length: count * pixels }, () => rng.int(256));
}

describe('nearest neighbours on tensors, in chunks', () => {
  it('matches a brute-force search and leaks no tensor', async () => {
    const d = 49;
    const refs = noise(300, d, 1);
    const queries = noise(37, d, 2);
    queries.set(refs.subarray(17 * d, 18 * d), 5 * d); // an exact copy of reference 17
    const before = tf.memory().numTensors;
    const set = referenceSet(refs, d, { refChunk: 64 });
    const got = await set.nearest(queries, { queryChunk: 16 });
    const during = tf.memory().numTensors;
    set.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(during - before).toBe(2 * Math.ceil(300 / 64)); // the references only
    for (let q = 0; q < 37; q++) {
      let best = Number.POSITIVE_INFINITY;
      for (let r = 0; r < 300; r++) {
        let s = 0;
        for (let p = 0; p < d; p++) {
          const x = (queries[q * d + p]! - refs[r * d + p]!) / 255;
          s += x * x;
        }
        best = Math.min(best, Math.sqrt(s));
      }
      expect(got.distance[q]).toBeCloseTo(best, 2);
      if (q === 5) expect(got.distance[q]).toBe(0);
    }
    expect(got.index[5]).toBe(17);
    expect(got.distance[5]).toBeLessThan(0.01);
  });
});

describe('audit statistics', () => {
  it('percentiles, shares and the verdict', () => {
    expect(quantile([0, 1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([0, 10], 0.05)).toBeCloseTo(0.5);
    const held = heldOutStats(Array.from({ length: 101 }, (_, i) => 10 + i));
    expect(held.p1).toBeCloseTo(11);
    expect(held.p5).toBeCloseTo(15);
    const s = sampleStats([0, 10.5, 12, 20], held);
    expect(s.shareBelowP1).toBe(0.5);
    expect(s.shareBelowP5).toBe(0.75);
    expect(closest([3, 1, 2], 2)).toEqual([1, 2]);
  });
});

describe('runAudit end to end', () => {
  let net: LoadedNetwork;
  beforeAll(async () => {
    const { dir } = await writeTinyNetwork({ classes: [1, 3, 5] });
    net = await loadNetwork(folderReader(dir));
  });

  const dataset = (images: Uint8Array, name: string): Dataset => {
    const count = images.length / 784;
    return {
      name,
      images,
      labels: Uint8Array.from({ length: count }, (_, i) => [1, 3, 5][i % 3]!),
      count,
      imageShape: [28, 28, 1],
    };
  };

  it('flags a network whose shared samples are copies of its training images', async () => {
    // The training set holds exactly what the vae generator will share (plus noise images);
    // the held-out set is other noise: every sample is nearer than any held-out image.
    const copies = await sharedSamples(net, { generator: 'vae', count: 40, seed: 7 });
    const train = new Uint8Array([...noise(200, 784, 3), ...copies]);
    const data: DatasetPair = {
      name: 'leaky',
      train: dataset(train, 'train'),
      test: dataset(noise(150, 784, 4), 'test'),
      classIds: [1, 3, 5],
    };
    const before = tf.memory().numTensors;
    const r = await runAudit({
      net,
      data,
      generators: ['vae', 'class-prior'],
      count: 40,
      holdout: 100,
      seed: 7,
      pairs: 4,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.trainImages).toBe(240);
    expect(r.heldOut.count).toBe(100);
    const vae = r.generators.find((g) => g.generator === 'vae')!;
    expect(vae.shareBelowP1).toBe(1);
    expect(vae.min).toBe(0);
    expect(vae.closest[0]!.trainIndex).toBeGreaterThanOrEqual(200); // one of the copies
    // (The untrained tiny decoder makes near-identical images for any code, so class-prior's
    // samples sit near the copies too: only vae's line is asserted.)
    expect(auditFailures(r, 0.05)[0]).toMatch(
      /^vae: 100\.0 % of samples are closer to a training image than 99 % of held-out images \(--max-share 5\.0 %\)/,
    );
    expect(auditFailures(r, 1)).toEqual([]);
    // The grid: signature, and a pair whose two halves are the same image.
    expect(Array.from(r.png.subarray(1, 4))).toEqual([80, 78, 71]);
    expect(r.generators.map((g) => g.count)).toEqual([40, 40]);
  });

  it('refuses counts beyond its bound and data of another image shape', async () => {
    const data: DatasetPair = {
      name: 'x',
      train: dataset(noise(3, 784, 1), 'train'),
      test: dataset(noise(3, 784, 2), 'test'),
      classIds: [1, 3, 5],
    };
    const base = { net, data, generators: ['vae'], holdout: 3, seed: 1 };
    await expect(runAudit({ ...base, count: 10_001 })).rejects.toThrow(
      /count 10001: want 1\.\.10000/,
    );
    const small: DatasetPair = {
      ...data,
      train: { ...data.train, imageShape: [14, 14, 4] },
    };
    await expect(runAudit({ ...base, data: small, count: 1 })).rejects.toThrow(/14x14x4/);
  });
});
