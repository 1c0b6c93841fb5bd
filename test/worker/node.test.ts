import { readFile, writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNetwork } from '../../src/core/model-folder';
import { createRng } from '../../src/core/rng';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { createApp } from '../../src/worker/app';
import { createServedNetwork, type ServedNetwork } from '../../src/worker/served-network';
import { startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { writeTinyNetwork } from '../fixtures/tiny-network';
import { BAD_QUERIES, expectJsonError, type Fetch, medianConfidence, readPacket } from './helpers';

let dir: string;
let served: ServedNetwork;
let fetchOpen: Fetch;
let fetchAuth: Fetch;
let median: number;

beforeAll(async () => {
  await initWasmBackend();
  ({ dir } = await writeTinyNetwork({ classes: [1, 3, 5] }));
  served = createServedNetwork(await loadNetwork(folderReader(dir)), { kernels: 'fast' });
  const open = createApp({ network: async () => served, token: () => undefined });
  const closed = createApp({ network: async () => served, token: () => 's3cret-token' });
  fetchOpen = async (path, init) => open.request(path, init);
  fetchAuth = async (path, init) => closed.request(path, init);
  median = await medianConfidence(fetchOpen);
});

describe('edge app under Node (app.request)', () => {
  it('GET /healthz and /v1/network describe the network without its files', async () => {
    const h = await fetchOpen('/healthz');
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok', networkId: 'net-a' });
    const res = await fetchOpen('/v1/network');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      networkId: 'net-a',
      classes: [1, 3, 5],
      imageShape: [28, 28, 1],
      modelDigest: served.net.digest,
      defaultGenerator: 'vae',
      limits: { maxCount: 1024, defaultThreshold: 0.9 },
    });
    expect((body.generators as { name: string }[]).map((g) => g.name)).toEqual([
      'vae',
      'class-prior',
    ]);
    expect(JSON.stringify(body)).not.toContain('weights.bin');
  });

  it('serves a packet of exactly count samples, all at or above the threshold', async () => {
    const res = await fetchOpen(`/v1/packet?count=100&seed=7&threshold=${median}`);
    const p = await readPacket(res, median);
    expect(p.imageShape).toEqual([28, 28, 1]);
    expect(p.metadata).toMatchObject({
      networkId: 'net-a',
      classIds: [1, 3, 5],
      generator: 'vae',
      modelDigest: served.net.digest,
      seed: 7,
      threshold: median,
      requested: 100,
      kept: 100,
    });
    expect(p.metadata.generated).toBeGreaterThan(100);
    expect(res.headers.get('x-packet-seed')).toBe('7');
  });

  it('is deterministic: same bytes, strong ETag, immutable, 304 on If-None-Match', async () => {
    const q = `/v1/packet?count=40&seed=11&threshold=${median}`;
    const a = await fetchOpen(q);
    const b = await fetchOpen(q);
    const ba = new Uint8Array(await a.arrayBuffer());
    expect(Buffer.from(ba).equals(Buffer.from(await b.arrayBuffer()))).toBe(true);
    const etag = a.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect(b.headers.get('etag')).toBe(etag);
    expect(a.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const c = await fetchOpen(q, { headers: { 'if-none-match': etag } });
    expect(c.status).toBe(304);
    expect(c.headers.get('etag')).toBe(etag);
    expect((await c.arrayBuffer()).byteLength).toBe(0);
    const other = await fetchOpen(`/v1/packet?count=40&seed=12&threshold=${median}`);
    expect(other.headers.get('etag')).not.toBe(etag);
  });

  it('draws and reports a seed when none is given, and the packet can be fetched again', async () => {
    const res = await fetchOpen('/v1/packet?count=8&threshold=0');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const p = await readPacket(res, 0);
    expect(String(p.metadata.seed)).toBe(res.headers.get('x-packet-seed'));
    const again = await fetchOpen(res.headers.get('content-location')!);
    const p2 = await readPacket(again, 0);
    expect(Buffer.from(p2.images).equals(Buffer.from(p.images))).toBe(true);
  });

  it('serves both built-in generators, with class quotas (tiny net: quota on its class)', async () => {
    const seen = await readPacket(await fetchOpen('/v1/packet?count=32&seed=5&threshold=0'), 0);
    const [top] = Object.entries(seen.metadata.perClass).sort((a, b) => b[1] - a[1])[0]!;
    for (const generator of ['class-prior', 'vae']) {
      const res = await fetchOpen(
        `/v1/packet?count=9&seed=3&threshold=0&classes=${top}&generator=${generator}`,
      );
      const p = await readPacket(res, 0);
      expect(p.metadata.generator).toBe(generator);
      expect(p.metadata.perClass[top]).toBe(9);
    }
  });

  it('answers 422 with details when the attempt budget cannot fill the packet', async () => {
    const res = await fetchOpen('/v1/packet?count=16&seed=1&threshold=1');
    const body = await expectJsonError(res, 422, 'budget_exhausted');
    expect(JSON.stringify(body)).toContain('threshold 1');
  });

  it('serves a PNG preview grid', async () => {
    const res = await fetchOpen('/v1/preview.png?count=20&seed=2&threshold=0');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = new Uint8Array(await res.arrayBuffer());
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const view = new DataView(png.buffer, png.byteOffset);
    expect(view.getUint32(16)).toBe(5 * 30 + 2);
    expect(res.headers.get('x-preview-rows')).toMatch(/^\d+:\d+(,\d+:\d+)*$/);
  });

  it.each(BAD_QUERIES)('%s -> %i JSON', async (path, status, mention) => {
    await expectJsonError(await fetchOpen(path), status, mention);
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const path of ['/v1/packet', '/v1/network', '/healthz', '/v1/preview.png']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fetchOpen(path, { method });
        await expectJsonError(res, 405, 'method_not_allowed');
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
    }
  });

  it('never answers 5xx to random malformed queries', async () => {
    const rng = createRng(99);
    const keys = ['count', 'seed', 'threshold', 'classes', 'generator', 'x', 'count[]', ''];
    const values = [
      '',
      '0',
      '1',
      '-1',
      '1e9',
      '0.5',
      '1,3',
      '%00',
      'vae',
      'ａ',
      '1,,3',
      ' 2',
      '9'.repeat(30),
      '%ZZ',
    ];
    for (let i = 0; i < 60; i++) {
      const parts = Array.from({ length: 1 + rng.int(3) }, () => {
        return `${keys[rng.int(keys.length)]}=${values[rng.int(values.length)]}`;
      });
      const res = await fetchOpen(`/v1/packet?${parts.join('&')}&threshold=0`);
      expect(res.status, parts.join('&')).toBeLessThan(500);
      await res.arrayBuffer();
    }
  });

  it('requires the bearer token when one is set; /healthz stays open', async () => {
    expect((await fetchAuth('/healthz')).status).toBe(200);
    const none = await fetchAuth('/v1/network');
    await expectJsonError(none, 401, 'unauthorized');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await fetchAuth('/v1/network', { headers: { authorization: 'Bearer nope' } });
    await expectJsonError(wrong, 401, 'unauthorized');
    const basic = await fetchAuth('/v1/packet', { headers: { authorization: 'Basic eDp5' } });
    await expectJsonError(basic, 401, 'unauthorized');
    const ok = await fetchAuth('/v1/network', {
      headers: { authorization: 'Bearer s3cret-token' },
    });
    expect(ok.status).toBe(200);
  });
});

describe('startLocalEndpoint (node runtime)', () => {
  it('serves over HTTP with a token, and stops', async () => {
    const ep = await startLocalEndpoint({ modelDir: dir, runtime: 'node', token: 't0k' });
    try {
      expect(ep.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(ep.networkId).toBe('net-a');
      expect((await fetch(`${ep.url}/v1/network`)).status).toBe(401);
      const res = await fetch(`${ep.url}/v1/packet?count=5&seed=1&threshold=0`, {
        headers: { authorization: 'Bearer t0k' },
      });
      await readPacket(res, 0);
    } finally {
      await ep.stop();
    }
    await expect(fetch(`${ep.url}/healthz`)).rejects.toThrow();
  });

  it('refuses to start on a tampered weights file, naming it', async () => {
    const { dir: bad } = await writeTinyNetwork({ networkId: 'net-bad' });
    const path = `${bad}/classifier/weights.bin`;
    const bytes = await readFile(path);
    bytes[3] = (bytes[3]! + 1) % 256;
    await writeFile(path, bytes);
    await expect(startLocalEndpoint({ modelDir: bad, runtime: 'node' })).rejects.toThrow(
      /classifier\/weights\.bin: sha256/,
    );
  });
});
