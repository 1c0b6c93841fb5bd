import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryCache } from '../../src/worker/cache';
import {
  type EndpointRuntime,
  type LocalEndpoint,
  startLocalEndpoint,
} from '../../src/worker-host/local-endpoint';
import { expectJsonError, readPacket } from './helpers';
import { schedulerLoad, tinyNetworkToServe } from './served-network';

/**
 * Seeded packets and previews are served from the cache (Cache API in workerd, memory in Node)
 * after the token check: the second identical request generates nothing. With a token the
 * responses are private and vary on Authorization (a shared cache must not hand them out).
 */
const net = tinyNetworkToServe({ networkId: 'net-c', classes: [0, 1, 2] });

describe('memoryCache', () => {
  it('returns what was put, evicts the least recently used beyond its bound', async () => {
    const cache = memoryCache({ maxBytes: 10 });
    const put = (k: string, n: number) =>
      cache.put(k, new Response(new Uint8Array(n).fill(n), { headers: { 'x-n': String(n) } }));
    await put('http://a/1', 4);
    await put('http://a/2', 4);
    expect((await cache.match('http://a/1'))?.headers.get('x-n')).toBe('4');
    await put('http://a/3', 4); // 12 bytes > 10: the least recently used (2) goes
    expect(await cache.match('http://a/2')).toBeUndefined();
    const one = await cache.match('http://a/1');
    expect([...new Uint8Array(await one!.arrayBuffer())]).toEqual([4, 4, 4, 4]);
    await put('http://a/big', 11);
    expect(await cache.match('http://a/big')).toBeUndefined();
  });
});

/**
 * Wait until `q`'s copy has landed in the cache: workerd stores it in the background
 * (`waitUntil`), so the request right after a miss may still miss on a loaded machine. Asks
 * again every 100 ms, 5 s at most; the assertions then run on a request after the landing.
 */
async function untilCached(q: string, init?: RequestInit): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await fetch(q, init);
    await r.arrayBuffer();
    if (r.headers.get('x-cache') === 'hit') return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${q} was never served from the cache`);
}

describe.each<EndpointRuntime>(['node', 'workerd'])('edge cache (%s)', (runtime) => {
  let open: LocalEndpoint;
  let closed: LocalEndpoint;

  const batches = async (ep: LocalEndpoint) => (await schedulerLoad(ep)).batches;

  beforeAll(async () => {
    [open, closed] = await Promise.all([
      startLocalEndpoint({ modelDir: net.dir, runtime, log: () => undefined }),
      startLocalEndpoint({ modelDir: net.dir, runtime, token: 'c-token', log: () => undefined }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([open?.stop(), closed?.stop()]);
  });

  it('serves a repeated seeded packet from the cache, byte-identical, generating nothing', async () => {
    const q = `${open.url}/v1/packet?count=300&seed=21&threshold=0`;
    const first = await fetch(q);
    expect(first.headers.get('x-cache')).toBe('miss');
    expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(first.headers.get('vary')).toBeNull();
    const a = new Uint8Array(await first.clone().arrayBuffer());
    await readPacket(first, 0);
    await untilCached(q);
    const before = await batches(open);
    const second = await fetch(q);
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(second.headers.get('x-packet-kept')).toBe('300');
    expect(second.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const b = new Uint8Array(await second.clone().arrayBuffer());
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    await readPacket(second, 0);
    expect(await batches(open)).toBe(before);
    // Another seed is another packet; a drawn seed is never cached.
    const other = await fetch(`${open.url}/v1/packet?count=300&seed=22&threshold=0`);
    expect(other.headers.get('x-cache')).toBe('miss');
    await other.arrayBuffer();
    const drawn = await fetch(`${open.url}/v1/packet?count=8&threshold=0`);
    expect(drawn.headers.get('x-cache')).toBeNull();
    expect(drawn.headers.get('cache-control')).toBe('no-store');
    await drawn.arrayBuffer();
  });

  it('caches seeded previews too', async () => {
    const q = `${open.url}/v1/preview.png?count=16&seed=4&threshold=0`;
    const a = await fetch(q);
    expect(a.headers.get('x-cache')).toBe('miss');
    const pa = new Uint8Array(await a.arrayBuffer());
    await untilCached(q);
    const b = await fetch(q);
    expect(b.headers.get('x-cache')).toBe('hit');
    expect(b.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await b.arrayBuffer()).equals(Buffer.from(pa))).toBe(true);
  });

  it('with a token: checks it before the cache, answers private with Vary: Authorization', async () => {
    const q = `${closed.url}/v1/packet?count=64&seed=5&threshold=0`;
    const auth = { authorization: 'Bearer c-token' };
    const first = await fetch(q, { headers: auth });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(first.headers.get('vary')).toBe('Authorization');
    await first.arrayBuffer();
    await expectJsonError(await fetch(q), 401, 'unauthorized');
    const wrong = await fetch(q, { headers: { authorization: 'Bearer nope' } });
    await expectJsonError(wrong, 401, 'unauthorized');
    await untilCached(q, { headers: auth });
    const hit = await fetch(q, { headers: auth });
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(hit.headers.get('vary')).toBe('Authorization');
    await hit.arrayBuffer();
    const notModified = await fetch(q, {
      headers: { ...auth, 'if-none-match': first.headers.get('etag')! },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(notModified.headers.get('vary')).toBe('Authorization');
    const preview = await fetch(`${closed.url}/v1/preview.png?count=4&seed=1&threshold=0`, {
      headers: auth,
    });
    expect(preview.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(preview.headers.get('vary')).toBe('Authorization');
    await preview.arrayBuffer();
  });
});
