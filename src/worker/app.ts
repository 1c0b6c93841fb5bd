import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { bearerAuth } from './auth';
import type { ResponseCache } from './cache';
import { apiError, notFound, onError } from './errors';
import { openApiDocument } from './openapi';
import { healthRoutes } from './routes/health';
import { labelRoutes } from './routes/label';
import { networkRoutes } from './routes/network';
import { packetRoutes } from './routes/packet';
import { previewRoutes } from './routes/preview';
import type { ServedNetwork } from './served-network';

/** Hono variables every route may read. */
export interface AppEnv {
  Variables: {
    network: ServedNetwork;
    /** Whether this environment has a token: seeded responses are then private. */
    tokenRequired: boolean;
    /** Where seeded packets and previews are kept; none: made on every request. */
    cache: ResponseCache | undefined;
  };
}

export interface AppOptions {
  /**
   * The loaded network for this request's environment (memoize: it is called per request).
   * A rejection answers 503 naming the cause (e.g. a tampered weights file).
   */
  network: (env: unknown) => Promise<ServedNetwork>;
  /** The bearer token this environment requires; none (undefined or '') leaves it open. */
  token: (env: unknown) => string | undefined;
  /** Cache of seeded packets and previews (Worker: `caches.default`; Node: in memory). */
  cache?: ResponseCache | undefined;
  /**
   * Origins allowed to call from a browser (CORS), or ['*']; none (the default): no CORS
   * headers, browsers on other origins are refused.
   */
  corsOrigins?: (env: unknown) => string[] | undefined;
  /** Where the one line per request goes (default: console.log). */
  log?: (line: string) => void;
}

const GET = { methods: ['GET', 'HEAD'], use: 'GET' } as const;
/** Every route, the methods it answers, and what a 405 for any other method tells to use. */
const ROUTES: Record<string, { methods: readonly string[]; use: string }> = {
  '/healthz': GET,
  '/v1/network': GET,
  '/v1/packet': GET,
  '/v1/preview.png': GET,
  '/v1/openapi.json': GET,
  // the network's calibrated answers about the images sent
  '/v1/label': { methods: ['POST'], use: 'POST with the images as the body' },
};

/** Headers a browser client may read: ETag, the packet's, the cache's, Retry-After. */
const EXPOSED = [
  'ETag',
  'Content-Location',
  'Retry-After',
  'X-Cache',
  'X-Packet-Seed',
  'X-Packet-Kept',
  'X-Packet-Generated',
  'X-Preview-Rows',
  'X-Request-Id',
];

/** The runtime-neutral app: the Worker entry and the Node entry both serve it. */
export function createApp(opts: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(notFound);

  const load = async (env: unknown): Promise<ServedNetwork> => {
    try {
      return await opts.network(env);
    } catch (e) {
      throw apiError(
        503,
        'model_unavailable',
        `the network could not be loaded: ${(e as Error).message}`,
      );
    }
  };

  const log = opts.log ?? ((line: string) => console.log(line));
  // One line per request: id (Cloudflare's ray id where there is one), method, path, status, ms.
  // In a deployed Worker the clock only moves on I/O, so ms is wall time to the response.
  app.use('*', async (c, next) => {
    const id = c.req.header('cf-ray') ?? crypto.randomUUID();
    const t0 = Date.now();
    await next();
    c.res.headers.set('x-request-id', id);
    const cache = c.res.headers.get('x-cache');
    log(
      `${id} ${c.req.method} ${c.req.path} ${c.res.status} ${Date.now() - t0}ms${cache ? ` cache=${cache}` : ''}`,
    );
  });
  app.use('*', async (c, next) => {
    const origins = opts.corsOrigins?.(c.env);
    if (!origins?.length) return next();
    return cors({
      origin: origins.includes('*') ? '*' : origins,
      allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
      allowHeaders: ['Authorization', 'If-None-Match', 'Content-Type'],
      exposeHeaders: EXPOSED,
      maxAge: 86400,
    })(c, next);
  });
  app.route('/', healthRoutes(load));
  const doc = JSON.stringify(openApiDocument());
  app.get('/v1/openapi.json', (c) => {
    c.header('cache-control', 'no-cache');
    return c.body(doc, 200, { 'content-type': 'application/json; charset=utf-8' });
  });
  app.use('/v1/*', bearerAuth(opts.token), async (c, next) => {
    if (ROUTES[c.req.path]?.methods.includes(c.req.method)) {
      c.set('network', await load(c.env));
      c.set('tokenRequired', Boolean(opts.token(c.env)));
      c.set('cache', opts.cache);
    }
    await next();
  });
  app.route('/v1', networkRoutes);
  app.route('/v1', packetRoutes);
  app.route('/v1', previewRoutes);
  app.route('/v1', labelRoutes);
  for (const [path, { methods, use }] of Object.entries(ROUTES)) {
    app.all(path, (c) => {
      throw apiError(
        405,
        'method_not_allowed',
        `${c.req.method} is not allowed on ${path}; use ${use}`,
        { headers: { allow: methods.join(', ') } },
      );
    });
  }
  return app;
}
