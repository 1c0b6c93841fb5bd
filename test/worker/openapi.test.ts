import { beforeAll, describe, expect, it } from 'vitest';
import {
  HealthSchema,
  NetworkDescriptionSchema,
  PacketQuerySchema,
  PreviewQuerySchema,
} from '../../src/core/api';
import { loadNetwork } from '../../src/core/model-folder';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { createApp } from '../../src/worker/app';
import { createServedNetwork, type ServedNetwork } from '../../src/worker/served-network';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/** GET /v1/openapi.json against the routes; CORS (off by default); one log line per request. */
let served: ServedNetwork;
const lines: string[] = [];
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  await initWasmBackend();
  const { dir } = await writeTinyNetwork({ networkId: 'net-o', classes: [1, 3, 5] });
  served = createServedNetwork(await loadNetwork(folderReader(dir)), { kernels: 'fast' });
  app = createApp({
    network: async () => served,
    token: () => 'o-token',
    log: (line) => lines.push(line),
  });
});

const auth = { headers: { authorization: 'Bearer o-token' } };

interface Doc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[]; responses: object }>
  >;
}

describe('OpenAPI document', () => {
  it('is served openly and documents exactly the GET and POST routes of the app', async () => {
    const res = await app.request('/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    const routes = (method: string) =>
      new Set(app.routes.filter((r) => r.method === method).map((r) => r.path));
    const documented = (method: string) =>
      new Set(Object.keys(doc.paths).filter((p) => doc.paths[p]![method.toLowerCase()]));
    expect(documented('GET')).toEqual(routes('GET'));
    expect(documented('POST')).toEqual(routes('POST'));
    expect(routes('POST')).toEqual(new Set(['/v1/label']));
    expect(Object.keys(doc.paths['/v1/label']!.post!.responses).sort()).toEqual(
      ['200', '400', '401', '404', '405', '413', '415', '503'].sort(),
    );
  });

  it('lists every query parameter the routes accept, and each documented one is accepted', async () => {
    const doc = (await (await app.request('/v1/openapi.json')).json()) as Doc;
    const example: Record<string, string> = {
      count: '4',
      seed: '1',
      threshold: '0',
      classes: '3',
      generator: 'class-prior',
    };
    for (const [path, schema] of [
      ['/v1/packet', PacketQuerySchema],
      ['/v1/preview.png', PreviewQuerySchema],
    ] as const) {
      const params = doc.paths[path]!.get!.parameters!;
      expect(params.map((p) => p.name).sort()).toEqual(Object.keys(schema.shape).sort());
      for (const p of params) {
        expect(p.in).toBe('query');
        const value = example[p.name];
        expect(value, `an example for ${p.name}`).toBeDefined();
        const rest = p.name === 'threshold' ? '' : '&threshold=0';
        const res = await app.request(`${path}?${p.name}=${value}${rest}`, auth);
        expect(res.status, `${path}?${p.name}=${value}`).toBe(200);
        await res.arrayBuffer();
      }
    }
  });

  it('describes /v1/network and /healthz as they answer (strict schemas)', async () => {
    const net = await (await app.request('/v1/network', auth)).json();
    expect(NetworkDescriptionSchema.strict().safeParse(net).error).toBeUndefined();
    const health = await (await app.request('/healthz')).json();
    expect(HealthSchema.strict().safeParse(health).error).toBeUndefined();
  });
});

describe('CORS', () => {
  it('is off by default', async () => {
    const res = await app.request('/v1/network', {
      headers: { ...auth.headers, origin: 'https://example.org' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows the configured origins, with preflight and exposed packet headers', async () => {
    const withCors = createApp({
      network: async () => served,
      token: () => 'o-token',
      corsOrigins: () => ['https://app.example.org'],
      log: () => undefined,
    });
    const pre = await withCors.request('/v1/packet', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.org',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const res = await withCors.request('/v1/packet?count=2&seed=1&threshold=0', {
      headers: { ...auth.headers, origin: 'https://app.example.org' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/X-Packet-Seed/);
    const other = await withCors.request('/v1/network', {
      headers: { ...auth.headers, origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('request log', () => {
  it('writes one line per request with its id (also sent as X-Request-Id) and duration', async () => {
    lines.length = 0;
    const a = await app.request('/healthz');
    const b = await app.request('/v1/packet?count=0', auth);
    const c = await app.request('/v1/network');
    expect(lines).toHaveLength(3);
    for (const [res, status, path] of [
      [a, 200, '/healthz'],
      [b, 400, '/v1/packet'],
      [c, 401, '/v1/network'],
    ] as const) {
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const line = lines.find((l) => l.startsWith(`${id} `));
      expect(line).toMatch(new RegExp(`^${id} GET ${path.replace('.', '\\.')} ${status} \\d+ms`));
    }
  });
});
