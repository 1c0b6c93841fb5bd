import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtinGenerators, type GeneratorPlugin } from '../../src/core/generators';
import { type LoadedNetwork, loadNetwork } from '../../src/core/model-folder';
import { createRng } from '../../src/core/rng';
import { quotas } from '../../src/core/sampling';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { createApp } from '../../src/worker/app';
import { createServedNetwork } from '../../src/worker/served-network';
import { writeTinyNetwork } from '../fixtures/tiny-network';
import { readPacket } from './helpers';

/**
 * A crafted network whose classifier reads the mean brightness m of an image:
 * m ~ 0 -> class 1, m ~ 0.5 -> class 3, m ~ 1 -> class 5 (confidently), and two toy
 * generators registered beside the built-ins, with no change to routes.
 */
function brightnessClassifier(): tfl.LayersModel {
  const input = tfl.input({ shape: [28, 28, 1] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const s = 40;
  const dense = tfl.layers.dense({ units: 3, activation: 'softmax' });
  const out = dense.apply(flat) as tfl.SymbolicTensor;
  const slopes = [-s, 0, s].map((a) => a / 784);
  const kernel = tf.tensor2d(
    Array.from({ length: 784 }, () => slopes),
    [784, 3],
  );
  dense.setWeights([kernel, tf.tensor1d([s * 0.25, 0, -s * 0.75])]);
  return tfl.model({ inputs: input, outputs: out });
}

const LEVEL: Record<number, number> = { 1: 0.02, 3: 0.5, 5: 0.98 };

/** Aims at classes: a flat image of that class's brightness. */
const flatTargeted: GeneratorPlugin = {
  name: 'flat-targeted',
  description: 'test: flat images at a class brightness',
  version: 1,
  targetsClasses: true,
  unavailableReason: () => undefined,
  sample: (_m, { count, rng, targets }) =>
    tf.tidy(() => {
      const v = Array.from({ length: count }, (_, i) => LEVEL[targets[i]!]! + 0 * rng.next());
      return tf.mul(tf.ones([count, 28, 28, 1]), tf.tensor4d(v, [count, 1, 1, 1])) as tf.Tensor4D;
    }),
};

/** Random brightness: classes come as they come, and some are not confident. */
const flatRandom: GeneratorPlugin = {
  ...flatTargeted,
  name: 'flat-random',
  targetsClasses: false,
  sample: (_m, { count, rng }) =>
    tf.tidy(() => {
      const v = Array.from({ length: count }, () => rng.next());
      return tf.mul(tf.ones([count, 28, 28, 1]), tf.tensor4d(v, [count, 1, 1, 1])) as tf.Tensor4D;
    }),
};

let net: LoadedNetwork;
let request: (path: string) => Promise<Response>;

beforeAll(async () => {
  await initWasmBackend();
  const { dir } = await writeTinyNetwork({ classes: [1, 3, 5], mixtures: true });
  const loaded = await loadNetwork(folderReader(dir));
  net = { ...loaded, classifier: brightnessClassifier() };
  const generators = builtinGenerators().register(flatTargeted).register(flatRandom);
  const served = createServedNetwork(net, { generators });
  const app = createApp({ network: async () => served, token: () => undefined });
  request = async (path) => app.request(path);
});

describe('generator plug-ins and class quotas', () => {
  it('splits count evenly over classes, remainder to the lowest ids', () => {
    expect([...quotas(10, [5, 1, 3])]).toEqual([
      [1, 4],
      [3, 3],
      [5, 3],
    ]);
  });

  it('a registered generator is served by name and listed by /v1/network', async () => {
    const info = (await (await request('/v1/network')).json()) as {
      generators: { name: string }[];
    };
    expect(info.generators.map((g) => g.name)).toEqual([
      'vae',
      'class-prior',
      'class-mixture',
      'flat-targeted',
      'flat-random',
    ]);
    const p = await readPacket(
      await request('/v1/packet?count=9&seed=1&threshold=0.99&classes=5,1&generator=flat-targeted'),
      0.99,
    );
    expect(p.metadata.perClass).toEqual({ '1': 5, '3': 0, '5': 4 });
    expect(p.metadata.generated).toBe(72); // one batch, capped by the budget (8 per sample)
  });

  it('fills quotas by filtering when the generator cannot aim', async () => {
    const p = await readPacket(
      await request(
        '/v1/packet?count=30&seed=2&threshold=0.99&classes=1,3,5&generator=flat-random',
      ),
      0.99,
    );
    expect(p.metadata.perClass).toEqual({ '1': 10, '3': 10, '5': 10 });
    const k = 3;
    for (let i = 0; i < 30; i++) {
      const row = [...p.softLabels.subarray(i * k, (i + 1) * k)];
      const cls = [1, 3, 5][row.indexOf(Math.max(...row))]!;
      const mean = p.images.subarray(i * 784, (i + 1) * 784).reduce((a, b) => a + b, 0) / 784;
      expect(Math.abs(mean / 255 - LEVEL[cls]!)).toBeLessThan(0.25);
    }
  });

  it('without classes, keeps whatever class passes the threshold', async () => {
    const p = await readPacket(
      await request('/v1/packet?count=50&seed=3&threshold=0.95&generator=flat-random'),
      0.95,
    );
    expect(p.metadata.generated).toBeGreaterThan(50);
  });

  it('class-prior draws z from the per-class Gaussian it is aimed at', () => {
    const plugin = builtinGenerators().get('class-prior')!;
    expect(plugin.unavailableReason(net.manifest)).toBeUndefined();
    const a = plugin.sample(
      { manifest: net.manifest, decoder: net.decoder },
      { count: 2, rng: createRng(1), targets: [1, 5] },
    );
    const b = plugin.sample(
      { manifest: net.manifest, decoder: net.decoder },
      { count: 2, rng: createRng(1), targets: [1, 5] },
    );
    expect(a.shape).toEqual([2, 28, 28, 1]);
    expect([...a.dataSync()]).toEqual([...b.dataSync()]);
    tf.dispose([a, b]);
    const noPriors = { ...net.manifest, generator: { ...net.manifest.generator, classPriors: [] } };
    expect(plugin.unavailableReason(noPriors)).toMatch(/no prior for class 1/);
  });

  it('class-mixture picks a component by weight, then draws z from it', () => {
    const plugin = builtinGenerators().get('class-mixture')!;
    expect(plugin.unavailableReason(net.manifest)).toBeUndefined();
    // A decoder that passes z through (8 latents as a 2x4 image), so the samples are the codes.
    const identity = tfl.sequential({
      layers: [tfl.layers.reshape({ targetShape: [2, 4, 1], inputShape: [8] })],
    });
    const models = { manifest: net.manifest, decoder: identity };
    const n = 4000;
    const z = plugin.sample(models, { count: n, rng: createRng(9), targets: Array(n).fill(3) });
    const again = plugin.sample(models, { count: n, rng: createRng(9), targets: Array(n).fill(3) });
    const v = z.dataSync();
    expect(Buffer.from(v.buffer).equals(Buffer.from(again.dataSync().buffer))).toBe(true);
    tf.dispose([z, again]);
    identity.dispose();
    // Class 3 is the fixture's second class: components at z1 = -2 (weight 0.25) and +2 (0.75).
    let right = 0;
    for (let i = 0; i < n; i++) {
      const z1 = v[i * 8 + 1]!;
      expect(Math.abs(Math.abs(z1) - 2)).toBeLessThan(2.5);
      if (z1 > 0) right++;
      expect(Math.abs(v[i * 8]!)).toBeLessThan(3); // other axes: mean 0, std 0.5
    }
    expect(right / n).toBeGreaterThan(0.72);
    expect(right / n).toBeLessThan(0.78);
    const { classMixtures: _, ...older } = net.manifest.generator;
    expect(plugin.unavailableReason({ ...net.manifest, generator: older })).toMatch(
      /classMixtures is absent.*train it again/,
    );
  });
});

describe('an endpoint that serves only some generators (SERVED_GENERATORS)', () => {
  it('lists and serves only those; asked for another, 400 naming what it offers', async () => {
    const served = createServedNetwork(net, { servedGenerators: ['vae', 'class-prior'] });
    const app = createApp({ network: async () => served, token: () => undefined });
    const info = (await (await app.request('/v1/network')).json()) as {
      generators: { name: string }[];
      defaultGenerator: string;
    };
    expect(info.generators.map((g) => g.name)).toEqual(['vae', 'class-prior']);
    expect(info.defaultGenerator).toBe('vae');
    const refused = await app.request('/v1/packet?count=4&seed=1&generator=class-mixture');
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(
      /no generator class-mixture; this network offers vae, class-prior/,
    );
    expect((await app.request('/v1/packet?count=4&seed=1&generator=class-prior')).status).toBe(200);
  });

  it('refuses an unknown name, and a list the network can make none of, at load', () => {
    expect(() => createServedNetwork(net, { servedGenerators: ['vae', 'gan'] })).toThrow(
      /unknown generator gan \(registered: vae, class-prior, class-mixture\)/,
    );
    const older = {
      ...net,
      manifest: { ...net.manifest, generator: { kind: 'other', latentSize: 8 } },
    };
    expect(() =>
      createServedNetwork(older as LoadedNetwork, { servedGenerators: ['class-mixture'] }),
    ).toThrow(/can make none of the served generators class-mixture/);
  });
});
