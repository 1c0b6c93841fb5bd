import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_MEDIA_TYPE, LabelResponseSchema } from '../../src/core/api';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { prepareWorkerBundle } from '../../src/worker-host/worker-bundle';
import { quietWrangler } from '../../src/worker-host/workerd-local';
import {
  syntheticImages,
  writeCalibratedTinyNetwork,
  writeTinyNetwork,
} from '../fixtures/tiny-network';
import { BAD_QUERIES, expectJsonError, type Fetch, medianConfidence, readPacket } from './helpers';

/**
 * The same routes in real workerd (wrangler's unstable_startWorker), against the tiny network
 * (with its calibration.json, so it answers POST /v1/label).
 */
let dir: string;
let workerd: LocalEndpoint;
let node: LocalEndpoint;
let get: Fetch;
let median: number;

beforeAll(async () => {
  quietWrangler();
  await initWasmBackend();
  ({ dir } = await writeCalibratedTinyNetwork({ networkId: 'net-w', classes: [0, 2, 4, 6] }));
  [workerd, node] = await Promise.all([
    startLocalEndpoint({ modelDir: dir, runtime: 'workerd', token: 'w-token' }),
    startLocalEndpoint({ modelDir: dir, runtime: 'node', token: 'w-token' }),
  ]);
  get = (path, init) =>
    fetch(`${workerd.url}${path}`, {
      ...init,
      headers: { authorization: 'Bearer w-token', ...(init?.headers as Record<string, string>) },
    });
  median = await medianConfidence(get);
});

afterAll(async () => {
  await Promise.all([workerd?.stop(), node?.stop()]);
});

describe('edge endpoint in workerd', () => {
  it('answers /healthz openly and /v1/network with the token', async () => {
    const h = await fetch(`${workerd.url}/healthz`);
    expect(await h.json()).toMatchObject({ status: 'ok', networkId: 'net-w' });
    await expectJsonError(await fetch(`${workerd.url}/v1/network`), 401, 'unauthorized');
    const bad = await fetch(`${workerd.url}/v1/network`, {
      headers: { authorization: 'Bearer w-tokem' },
    });
    await expectJsonError(bad, 401, 'unauthorized');
    const res = await get('/v1/network');
    expect(await res.json()).toMatchObject({ networkId: 'net-w', classes: [0, 2, 4, 6] });
  });

  it('serves a 1024-sample packet above the threshold, byte-identical on repeat and to Node', async () => {
    const q = `/v1/packet?count=1024&seed=7&threshold=${median}`;
    const a = await get(q);
    const etag = a.headers.get('etag');
    const bytes = new Uint8Array(await a.clone().arrayBuffer());
    const p = await readPacket(a, median);
    expect(p.metadata.kept).toBe(1024);
    expect(p.metadata.generated).toBeGreaterThan(1024);
    const b = new Uint8Array(await (await get(q)).arrayBuffer());
    expect(Buffer.from(b).equals(Buffer.from(bytes))).toBe(true);
    const n = await fetch(`${node.url}${q}`, { headers: { authorization: 'Bearer w-token' } });
    expect(n.headers.get('etag')).toBe(etag);
    expect(Buffer.from(await n.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    const c = await get(q, { headers: { 'if-none-match': etag! } });
    expect(c.status).toBe(304);
    // A token guards this network: never a public cache entry (a shared cache would leak it).
    expect(c.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(c.headers.get('vary')).toBe('Authorization');
  });

  it('serves class-prior packets with quotas and a PNG preview', async () => {
    const p = await readPacket(
      await get('/v1/packet?count=6&seed=2&threshold=0&generator=class-prior'),
      0,
    );
    expect(p.metadata.generator).toBe('class-prior');
    const png = await get('/v1/preview.png?count=12&seed=1&threshold=0');
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
  });

  it('answers every malformed request with 4xx JSON, never 5xx', async () => {
    for (const [path, status, mention] of BAD_QUERIES) {
      await expectJsonError(await get(path), status, mention);
    }
    await expectJsonError(await get('/v1/packet', { method: 'POST' }), 405, 'method_not_allowed');
    await expectJsonError(await get('/v1/packet?count=8&threshold=1'), 422, 'budget_exhausted');
  });

  it('answers POST /v1/label from the bundled calibration.json, as Node does', async () => {
    expect(await (await get('/v1/network')).json()).toMatchObject({ labels: true });
    const { images } = syntheticImages([0, 2, 4, 6], 20, 9);
    const post = (base: string, body: Uint8Array<ArrayBuffer>, type = LABEL_MEDIA_TYPE) =>
      fetch(`${base}/v1/label`, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer w-token', 'content-type': type },
      });
    const res = await post(workerd.url, images);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = LabelResponseSchema.parse(await res.json());
    expect(body).toMatchObject({ networkId: 'net-w', classes: [0, 2, 4, 6], count: 20 });
    // Both compute on portable kernels: the same numbers to the last bit.
    expect(await (await post(node.url, images)).json()).toEqual(body);
    await expectJsonError(await post(workerd.url, images, 'text/plain'), 415, 'unsupported');
    await expectJsonError(await post(workerd.url, images.subarray(1)), 400, 'bad_body');
    await expectJsonError(await get('/v1/label'), 405, 'method_not_allowed');
    const tooMany = new Uint8Array(1025 * 28 * 28);
    await expectJsonError(await post(workerd.url, tooMany), 413, 'payload_too_large');
    await expectJsonError(await post(node.url, tooMany), 413, 'payload_too_large');
  });

  it('SERVED_GENERATORS reaches the Worker: only those are listed and served', async () => {
    const only = await startLocalEndpoint({
      modelDir: dir,
      runtime: 'workerd',
      servedGenerators: ['class-prior'],
    });
    try {
      const info = (await (await fetch(`${only.url}/v1/network`)).json()) as {
        generators: { name: string }[];
        defaultGenerator: string;
      };
      expect(info.generators.map((g) => g.name)).toEqual(['class-prior']);
      expect(info.defaultGenerator).toBe('class-prior');
      await expectJsonError(
        await fetch(`${only.url}/v1/packet?count=4&seed=1&generator=vae`),
        400,
        'no generator vae',
      );
    } finally {
      await only.stop();
    }
  });

  it('refuses a tampered weights file: at bundling, and in the Worker itself (503 naming it)', async () => {
    const { dir: bad } = await writeTinyNetwork({ networkId: 'net-t' });
    const bundle = await prepareWorkerBundle(bad);
    const path = join(bad, 'generator/weights.bin');
    const bytes = await readFile(path);
    bytes[7] = (bytes[7]! + 1) % 256;
    await writeFile(path, bytes);
    await expect(startLocalEndpoint({ modelDir: bad, runtime: 'workerd' })).rejects.toThrow(
      /generator\/weights\.bin: sha256/,
    );
    // Tamper with the bundled copy too and run it: the Worker checks every sha256 at load.
    await writeFile(join(bundle.modelFilesDir, 'generator/weights.bin.bin'), bytes);
    const { unstable_startWorker } = await import('wrangler');
    const worker = await unstable_startWorker({
      config: bundle.configPath,
      dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false },
    });
    try {
      const url = (await worker.url).origin;
      await expectJsonError(await fetch(`${url}/healthz`), 503, 'generator/weights.bin: sha256');
      await expectJsonError(await fetch(`${url}/v1/packet`), 503, 'model_unavailable');
    } finally {
      await worker.dispose();
    }
  });
});
