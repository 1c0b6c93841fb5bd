import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchNetworkInfo, fetchPacket, initClientBackend } from '../../src/client';
import { generateReplaySet } from '../../src/client/replay';
import { type LoadedNetwork, loadNetwork } from '../../src/core/model-folder';
import { folderReader } from '../../src/node/fs-atomic';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/** One sampler (src/core/sampling.ts): the client's local replay is the endpoint's packet. */
let endpoint: LocalEndpoint;
let net: LoadedNetwork;
const fast = { retries: 1, backoffMs: 5, timeoutMs: 30_000 };

beforeAll(async () => {
  await initClientBackend('wasm');
  const fixture = await writeTinyNetwork({
    networkId: 'net-r',
    classes: [2, 4, 7],
    mixtures: true,
  });
  endpoint = await startLocalEndpoint({ modelDir: fixture.dir, runtime: 'node' });
  net = await loadNetwork(folderReader(fixture.dir));
});

afterAll(async () => {
  await endpoint?.stop();
  net?.classifier.dispose();
  net?.decoder.dispose();
});

describe('local replay', () => {
  for (const [generator, threshold, balance] of [
    ['vae', 0, false],
    ['vae', 0.34, false],
    ['class-prior', 0.34, false],
    ['class-mixture', 0.34, false],
  ] as const) {
    it(`is byte-identical to the endpoint's packet (${generator}, threshold ${threshold}${balance ? ', quotas' : ''})`, async () => {
      const info = await fetchNetworkInfo({ url: endpoint.url }, fast);
      const classes = balance ? net.manifest.classes : undefined;
      const packet = await fetchPacket(
        { url: endpoint.url },
        info,
        { count: 150, seed: 77, threshold, classes, generator },
        fast,
      );
      const before = tf.memory().numTensors;
      const replay = await generateReplaySet(net, {
        samples: 150,
        seed: 77,
        threshold,
        generator,
        classes,
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(replay.count).toBe(150);
      expect(Buffer.from(replay.images).equals(Buffer.from(packet.images))).toBe(true);
      expect(
        Buffer.from(replay.softLabels.buffer).equals(Buffer.from(packet.softLabels.buffer)),
      ).toBe(true);
    });
  }

  it('names the network when the threshold cannot be met', async () => {
    await expect(generateReplaySet(net, { samples: 50, seed: 1, threshold: 1.01 })).rejects.toThrow(
      /replay for net-r: only 0 of/,
    );
  });
});
