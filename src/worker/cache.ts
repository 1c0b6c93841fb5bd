import type { Context } from 'hono';

/**
 * Where seeded packets and previews are kept once made: the Cache API (`caches.default`) in a
 * Worker, a bounded in-memory map under Node. Keys are URLs built from the canonical query and
 * the packet's ETag (model digest, versions, parameters), so they change with the model.
 */
export interface ResponseCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, res: Response): Promise<void>;
}

/** `caches.default` where the runtime has it (workerd), else undefined. */
export function edgeCache(): ResponseCache | undefined {
  const store = (globalThis as { caches?: { default?: Cache } }).caches?.default;
  if (!store) return undefined;
  return {
    match: async (key) => (await store.match(key)) ?? undefined,
    put: (key, res) => store.put(key, res),
  };
}

/** A least-recently-used map of responses, at most `maxBytes` of bodies (Node). */
export function memoryCache(opts: { maxBytes: number }): ResponseCache {
  const entries = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  let bytes = 0;
  return {
    match: async (key) => {
      const e = entries.get(key);
      if (!e) return undefined;
      entries.delete(key);
      entries.set(key, e);
      return new Response(e.body.slice() as Uint8Array<ArrayBuffer>, { headers: e.headers });
    },
    put: async (key, res) => {
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.length > opts.maxBytes) return;
      const old = entries.get(key);
      if (old) {
        entries.delete(key);
        bytes -= old.body.length;
      }
      const headers: [string, string][] = [];
      res.headers.forEach((v, k) => {
        headers.push([k, v]);
      });
      entries.set(key, { body, headers });
      bytes += body.length;
      for (const [k, e] of entries) {
        if (bytes <= opts.maxBytes) break;
        entries.delete(k);
        bytes -= e.body.length;
      }
    },
  };
}

/** The Cache-Control of a seeded (immutable) response; private when a token guards it. */
export function immutableHeaders(tokenRequired: boolean): Record<string, string> {
  return tokenRequired
    ? { 'cache-control': 'private, max-age=31536000, immutable', vary: 'Authorization' }
    : { 'cache-control': 'public, max-age=31536000, immutable' };
}

/** What a stored copy carries: the Cache API keeps only public responses; no Vary. */
const STORED = 'public, max-age=31536000, immutable';

/**
 * Serve a seeded response from the cache, or make it, answer it and store a copy (in the
 * background where the runtime allows: `waitUntil`). `X-Cache: hit|miss` says which.
 * Call only after the token check: the cache does not know about tokens.
 */
export async function cachedResponse(
  c: Context,
  cache: ResponseCache | undefined,
  key: string,
  headers: Record<string, string>,
  make: () => Promise<{ body: Uint8Array; headers: Record<string, string> }>,
): Promise<Response> {
  const url = new URL(key, c.req.url).toString();
  const hit = await cache?.match(url).catch(() => undefined);
  if (hit) {
    const h = new Headers(hit.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    h.set('x-cache', 'hit');
    return new Response(hit.body, { status: 200, headers: h });
  }
  const made = await make();
  const body = made.body as Uint8Array<ArrayBuffer>;
  if (cache) {
    const copy = new Response(body.slice(), {
      headers: { ...made.headers, 'cache-control': STORED },
    });
    const stored = cache.put(url, copy).catch((e: Error) => {
      console.error(`cache put ${key}: ${e.message}`);
    });
    const ctx = executionContext(c);
    if (ctx) ctx.waitUntil(stored);
    else await stored;
  }
  return new Response(body, {
    status: 200,
    headers: { ...made.headers, ...headers, 'x-cache': 'miss' },
  });
}

function executionContext(c: Context): { waitUntil(p: Promise<unknown>): void } | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}
