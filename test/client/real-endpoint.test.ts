import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EndpointError,
  fetchNetworkInfo,
  fetchPacket,
  fetchPacketSet,
  initClientBackend,
  runClient,
} from '../../src/client';
import { loadNetwork } from '../../src/core/model-folder';
import { folderReader } from '../../src/node/fs-atomic';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/** The client against the real endpoint (the Hono app on Node, over HTTP). */
let a: LocalEndpoint;
let b: LocalEndpoint;
let locked: LocalEndpoint;
let dirB: string;
const fast = { retries: 1, backoffMs: 5, timeoutMs: 30_000 };

beforeAll(async () => {
  await initClientBackend('wasm');
  const netA = await writeTinyNetwork({ networkId: 'net-a', classes: [1, 3, 5] });
  const netB = await writeTinyNetwork({ networkId: 'net-b', classes: [0, 2] });
  dirB = netB.dir;
  a = await startLocalEndpoint({ modelDir: netA.dir, runtime: 'node' });
  b = await startLocalEndpoint({ modelDir: netB.dir, runtime: 'node' });
  locked = await startLocalEndpoint({ modelDir: netA.dir, runtime: 'node', token: 'sesame' });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), locked?.stop()]);
});

describe('client against real local endpoints', () => {
  it('describes the network and fetches verified, deterministic chunks', async () => {
    const info = await fetchNetworkInfo({ url: a.url }, fast);
    // the fixture is seeded: a second copy has the same digest as the served one
    const copy = await writeTinyNetwork({ networkId: 'net-a', classes: [1, 3, 5] });
    const local = await loadNetwork(folderReader(copy.dir));
    expect(info).toMatchObject({ networkId: 'net-a', classes: [1, 3, 5], imageShape: [28, 28, 1] });
    expect(info.modelDigest).toBe(local.digest);
    local.classifier.dispose();
    local.decoder.dispose();
    const opts = { ...fast, samples: 300, chunkSize: 128, seed: 5, threshold: 0, concurrency: 2 };
    const s1 = await fetchPacketSet({ url: a.url }, info, opts);
    const s2 = await fetchPacketSet({ url: a.url }, info, opts);
    expect(s1.count).toBe(300);
    expect(s1.chunks.map((c) => c.requested)).toEqual([128, 128, 44]);
    expect(Buffer.from(s1.images).equals(Buffer.from(s2.images))).toBe(true);
  });

  it('4xx from the real endpoint: named, not retried', async () => {
    const info = await fetchNetworkInfo({ url: a.url }, fast);
    const err = await fetchPacket(
      { url: a.url },
      info,
      { count: 10, seed: 1, threshold: 0, classes: [9] },
      fast,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointError);
    expect((err as EndpointError).code).toBe('bad-request');
    expect((err as EndpointError).message).toMatch(/does not know class 9/);
  });

  it('token: 401 without, served with', async () => {
    const err = await fetchNetworkInfo({ url: locked.url }, fast).catch((e: unknown) => e);
    expect((err as EndpointError).code).toBe('unauthorized');
    const info = await fetchNetworkInfo({ url: locked.url, token: 'sesame' }, fast);
    expect(info.networkId).toBe('net-a');
  });

  it('runs the whole client: fetch, replay from the target endpoint, fine-tune, save', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'ks-real-')), 'merged');
    const result = await runClient({
      endpoints: [{ url: a.url }, { url: b.url }],
      targetDir: dirB,
      outDir: out,
      samplesPerNetwork: 120,
      seed: 3,
      chunkSize: 64,
      schedule: { epochs: 1, batchSize: 32 },
      ...fast,
    });
    expect(result.classes).toEqual([0, 1, 2, 3, 5]);
    expect(result.sources.map((s) => s.networkId)).toEqual(['net-a', 'net-b']);
    expect(result.history).toHaveLength(1);
    const saved = await loadNetwork(folderReader(out));
    expect(saved.manifest.classes).toEqual([0, 1, 2, 3, 5]);
    saved.classifier.dispose();
    saved.decoder.dispose();
    result.model.dispose();
  });

  it('without replay: the union still holds the target classes (locally made replay off)', async () => {
    const result = await runClient({
      endpoints: [{ url: a.url }],
      targetDir: dirB,
      samplesPerNetwork: 60,
      replaySamples: 0,
      seed: 4,
      schedule: { epochs: 1, batchSize: 32 },
      ...fast,
    });
    expect(result.classes).toEqual([0, 1, 2, 3, 5]);
    expect(result.sources.map((s) => s.networkId)).toEqual(['net-a']);
    expect(result.model.outputs[0]!.shape.at(-1)).toBe(5);
    result.model.dispose();
  });

  it('target not served: its replay set is generated locally from its folder', async () => {
    const events: string[] = [];
    const result = await runClient({
      endpoints: [{ url: a.url }],
      targetDir: dirB,
      samplesPerNetwork: 60,
      seed: 4,
      schedule: { epochs: 1, batchSize: 32 },
      onEvent: (e) => events.push(e.kind),
      ...fast,
    });
    expect(events).toContain('replay');
    expect(result.sources.map((s) => [s.networkId, s.count])).toEqual([
      ['net-a', 60],
      ['net-b', 60],
    ]);
    result.model.dispose();
  });
});
