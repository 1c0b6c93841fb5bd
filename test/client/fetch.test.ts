import { afterEach, describe, expect, it } from 'vitest';
import {
  chunkSeed,
  EndpointError,
  fetchNetworkInfo,
  fetchPacketSet,
  getWithRetry,
  mergeSets,
  parseEndpoint,
  parseEndpointAddress,
  type SoftSet,
} from '../../src/client';
import { type FakeEndpoint, type FakeNetwork, startFakeEndpoint } from './fake-endpoint';

const DIGEST_A = 'a'.repeat(64);
const netA: FakeNetwork = {
  networkId: 'net-a',
  classes: [0, 2, 4],
  modelDigest: DIGEST_A,
  imageShape: [4, 4, 1],
};
const fast = { retries: 3, backoffMs: 5, maxBackoffMs: 20, timeoutMs: 2000 };

let servers: FakeEndpoint[] = [];
async function start(net: FakeNetwork = netA, opts: { token?: string } = {}) {
  const s = await startFakeEndpoint(net, opts);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function expectCode(p: Promise<unknown>, code: string, url: string) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EndpointError);
  expect((e as EndpointError).code).toBe(code);
  expect((e as EndpointError).message).toContain(url);
  expect((e as EndpointError).hint.length).toBeGreaterThan(10);
  return e as EndpointError;
}

describe('endpoint spec', () => {
  it('parses URL and URL@token', () => {
    expect(parseEndpointAddress('http://127.0.0.1:8787/')).toEqual({
      url: 'http://127.0.0.1:8787',
      token: undefined,
    });
    expect(parseEndpointAddress('https://a.example.com@s3cret')).toEqual({
      url: 'https://a.example.com',
      token: 's3cret',
    });
    expect(() => parseEndpointAddress('ftp://x')).toThrow(/want http/);
  });

  it('keeps the old name, parseEndpoint, for callers of the client API', () => {
    expect(parseEndpoint('http://h:1@t')).toEqual({ url: 'http://h:1', token: 't' });
  });
});

describe('fetching packets', () => {
  it('fetches seeded chunks with bounded parallelism, deterministically', async () => {
    const s = await start({ ...netA });
    const ep = { url: s.url };
    const info = await fetchNetworkInfo(ep, fast);
    expect(info).toMatchObject({ networkId: 'net-a', classes: [0, 2, 4], modelDigest: DIGEST_A });
    const progress: number[] = [];
    const a = await fetchPacketSet(ep, info, {
      ...fast,
      samples: 450,
      chunkSize: 50,
      seed: 7,
      threshold: 0.75,
      concurrency: 3,
      onProgress: (p) => progress.push(p.kept),
    });
    expect(a.count).toBe(450);
    expect(a.images.length).toBe(450 * 16);
    expect(a.softLabels.length).toBe(450 * 3);
    expect(a.chunks.length).toBeGreaterThan(9); // a threshold drops ~half: more chunks than 450/50
    expect(a.chunks[0]!.seed).toBe(chunkSeed(7, 0));
    expect(s.maxInFlight).toBeLessThanOrEqual(3);
    expect(progress.at(-1)).toBe(450);
    for (let i = 0; i < a.count; i++) {
      expect(Math.max(...a.softLabels.subarray(i * 3, i * 3 + 3))).toBeGreaterThanOrEqual(0.75);
    }
    const b = await fetchPacketSet(ep, info, {
      ...fast,
      samples: 450,
      chunkSize: 50,
      seed: 7,
      threshold: 0.75,
      concurrency: 1,
    });
    expect(Buffer.from(b.images).equals(Buffer.from(a.images))).toBe(true);
    expect(Array.from(b.softLabels)).toEqual(Array.from(a.softLabels));
  });

  it('endpoint down: names the endpoint after retrying', async () => {
    const s = await start();
    const url = s.url;
    await s.stop();
    servers = [];
    const retries: number[] = [];
    const e = await expectCode(
      fetchNetworkInfo({ url }, { ...fast, retries: 2, onRetry: (r) => retries.push(r.attempt) }),
      'unreachable',
      url,
    );
    expect(retries).toEqual([1, 2]);
    expect(e.message).toMatch(/after 3 tries/);
    expect(e.hint).toMatch(/running/);
  });

  it('500s then success: retries with backoff and succeeds', async () => {
    const s = await start();
    s.faults.push((path, n) =>
      path === '/v1/packet' && n < 2 ? { kind: 'status', status: 503 } : undefined,
    );
    const info = await fetchNetworkInfo({ url: s.url }, fast);
    const set = await fetchPacketSet({ url: s.url }, info, {
      ...fast,
      samples: 20,
      chunkSize: 20,
      seed: 1,
    });
    expect(set.count).toBe(20);
    expect(s.requests.filter((r) => r.startsWith('/v1/packet'))).toHaveLength(3);
  });

  it('5xx forever: fails after the retries, naming status and endpoint', async () => {
    const s = await start();
    s.faults.push((path) => (path === '/v1/network' ? { kind: 'status', status: 500 } : undefined));
    const e = await expectCode(fetchNetworkInfo({ url: s.url }, fast), 'server-error', s.url);
    expect(e.status).toBe(500);
    expect(s.requests).toHaveLength(4);
  });

  it('4xx: no retry', async () => {
    const s = await start();
    s.faults.push(() => ({ kind: 'status', status: 400 }));
    await expectCode(fetchNetworkInfo({ url: s.url }, fast), 'bad-request', s.url);
    expect(s.requests).toHaveLength(1);
  });

  it('401 without the token, fine with it', async () => {
    const s = await start(netA, { token: 'tok' });
    const e = await expectCode(fetchNetworkInfo({ url: s.url }, fast), 'unauthorized', s.url);
    expect(e.hint).toMatch(/token/);
    expect(s.requests).toHaveLength(1);
    const info = await fetchNetworkInfo({ url: s.url, token: 'tok' }, fast);
    expect(info.networkId).toBe('net-a');
  });

  it('per-request timeout', async () => {
    const s = await start();
    s.faults.push(() => ({ kind: 'hang' }));
    await expectCode(
      fetchNetworkInfo({ url: s.url }, { ...fast, timeoutMs: 150, retries: 1 }),
      'timeout',
      s.url,
    );
    expect(s.requests).toHaveLength(2);
  });

  it('truncated body: a format error (no half packet accepted)', async () => {
    const s = await start();
    s.faults.push((path) => (path === '/v1/packet' ? { kind: 'truncate', bytes: 300 } : undefined));
    const info = await fetchNetworkInfo({ url: s.url }, fast);
    const e = await expectCode(
      fetchPacketSet({ url: s.url }, info, { ...fast, samples: 10, chunkSize: 10, seed: 1 }),
      'format',
      s.url,
    );
    expect(e.message).toMatch(/truncated/);
  });

  it('connection cut mid-body: retried, then succeeds', async () => {
    const s = await start();
    s.faults.push((path, n) =>
      path === '/v1/packet' && n === 0 ? { kind: 'cut', bytes: 100 } : undefined,
    );
    const info = await fetchNetworkInfo({ url: s.url }, fast);
    const set = await fetchPacketSet({ url: s.url }, info, {
      ...fast,
      samples: 10,
      chunkSize: 10,
      seed: 1,
    });
    expect(set.count).toBe(10);
  });

  it('wrong digest: refused', async () => {
    const s = await start();
    s.faults.push((path) =>
      path === '/v1/packet'
        ? { kind: 'metadata', patch: { modelDigest: 'b'.repeat(64) } }
        : undefined,
    );
    const info = await fetchNetworkInfo({ url: s.url }, fast);
    await expectCode(
      fetchPacketSet({ url: s.url }, info, { ...fast, samples: 10, chunkSize: 10, seed: 1 }),
      'digest-mismatch',
      s.url,
    );
  });

  it('class ids the network does not know: refused', async () => {
    const s = await start();
    s.faults.push((path) =>
      path === '/v1/packet' ? { kind: 'metadata', patch: { classIds: [0, 2, 9] } } : undefined,
    );
    const info = await fetchNetworkInfo({ url: s.url }, fast);
    await expectCode(
      fetchPacketSet({ url: s.url }, info, { ...fast, samples: 10, chunkSize: 10, seed: 1 }),
      'class-clash',
      s.url,
    );
  });

  it('two networks claiming the same class: refused at merge', async () => {
    const a = await start();
    const b = await start({
      ...netA,
      networkId: 'net-b',
      classes: [4, 5],
      modelDigest: 'c'.repeat(64),
    });
    const sets: SoftSet[] = [];
    for (const s of [a, b]) {
      const info = await fetchNetworkInfo({ url: s.url }, fast);
      sets.push({
        ...(await fetchPacketSet({ url: s.url }, info, {
          ...fast,
          samples: 5,
          chunkSize: 5,
          seed: 1,
        })),
        source: s.url,
      });
    }
    expect(() => mergeSets(sets, { seed: 1 })).toThrow(/claims class 4/);
    const merged = mergeSets(sets, { seed: 1, allowOverlap: true });
    expect(merged.classes).toEqual([0, 2, 4, 5]);
  });

  it('schema mismatch: packet format version and network description', async () => {
    const s = await start();
    s.faults.push((path) =>
      path === '/v1/packet' ? { kind: 'metadata', patch: { formatVersion: 2 } } : undefined,
    );
    const info = await fetchNetworkInfo({ url: s.url }, fast);
    const e = await expectCode(
      fetchPacketSet({ url: s.url }, info, { ...fast, samples: 10, chunkSize: 10, seed: 1 }),
      'format',
      s.url,
    );
    expect(e.message).toMatch(/formatVersion/);
    const t = await start();
    t.faults.push((path) =>
      path === '/v1/network' ? { kind: 'network-json', body: { networkId: 'x' } } : undefined,
    );
    const e2 = await expectCode(fetchNetworkInfo({ url: t.url }, fast), 'format', t.url);
    expect(e2.message).toMatch(/classes/);
  });

  it('merge places soft labels into the union columns and normalises rows', () => {
    const set = (networkId: string, classIds: number[], rows: number[][]) => ({
      source: networkId,
      networkId,
      classIds,
      imageShape: [1, 1, 1] as [number, number, number],
      count: rows.length,
      images: Uint8Array.from(rows.map((_, i) => i + (networkId === 'b' ? 100 : 0))),
      softLabels: Float32Array.from(rows.flat()),
    });
    const m = mergeSets(
      [
        set('a', [3, 1], [[0.8, 0.2]]),
        set(
          'b',
          [0, 2],
          [
            [0.1, 0.9],
            [0.5, 0.5],
          ],
        ),
      ],
      { seed: 3 },
    );
    expect(m.classes).toEqual([0, 1, 2, 3]);
    expect(m.count).toBe(3);
    const rowOf = (img: number) =>
      Array.from(m.targets.subarray(m.images.indexOf(img) * 4, m.images.indexOf(img) * 4 + 4));
    expect(rowOf(0).map((v) => +v.toFixed(3))).toEqual([0, 0.2, 0, 0.8]);
    expect(rowOf(100).map((v) => +v.toFixed(3))).toEqual([0.1, 0, 0.9, 0]);
    // no real source: no per-sample real flags
    expect(m.real).toBeUndefined();
    // a real source's samples are flagged wherever the shuffle put them
    const r = mergeSets(
      [set('a', [3, 1], [[0.8, 0.2]]), { ...set('b', [0, 2], [[1, 0]]), real: true }],
      {
        seed: 3,
      },
    );
    expect(r.real?.[r.images.indexOf(100)]).toBe(1);
    expect(r.real?.[r.images.indexOf(0)]).toBe(0);
  });

  it('abort signal stops a retry loop', async () => {
    const s = await start();
    s.faults.push(() => ({ kind: 'status', status: 503 }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expectCode(
      getWithRetry({ url: s.url }, '/v1/network', {
        retries: 100,
        backoffMs: 20,
        signal: ac.signal,
      }),
      'aborted',
      s.url,
    );
  });
});
