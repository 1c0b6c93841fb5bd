import { Hono } from 'hono';
import { bearerAuth } from './auth';
import type { ResponseCache } from './cache';
import type { Endpoint } from './endpoint';
import { apiError, notFound, onError } from './errors';
import { healthRoutes } from './routes/health';
import { networkRoutes } from './routes/network';
import { packetRoutes } from './routes/packet';
import { previewRoutes } from './routes/preview';

/** Hono variables every route may read. */
export interface AppEnv {
  Variables: {
    endpoint: Endpoint;
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
  endpoint: (env: unknown) => Promise<Endpoint>;
  /** The bearer token this environment requires; none (undefined or '') leaves it open. */
  token: (env: unknown) => string | undefined;
  /** Cache of seeded packets and previews (Worker: `caches.default`; Node: in memory). */
  cache?: ResponseCache | undefined;
}

const ROUTES = ['/healthz', '/v1/network', '/v1/packet', '/v1/preview.png'];

/** The runtime-neutral app: the Worker entry and the Node entry both serve it. */
export function createApp(opts: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(notFound);

  const load = async (env: unknown): Promise<Endpoint> => {
    try {
      return await opts.endpoint(env);
    } catch (e) {
      throw apiError(
        503,
        'model_unavailable',
        `the network could not be loaded: ${(e as Error).message}`,
      );
    }
  };

  app.route('/', healthRoutes(load));
  app.use('/v1/*', bearerAuth(opts.token), async (c, next) => {
    if (ROUTES.includes(c.req.path) && (c.req.method === 'GET' || c.req.method === 'HEAD')) {
      c.set('endpoint', await load(c.env));
      c.set('tokenRequired', Boolean(opts.token(c.env)));
      c.set('cache', opts.cache);
    }
    await next();
  });
  app.route('/v1', networkRoutes);
  app.route('/v1', packetRoutes);
  app.route('/v1', previewRoutes);
  for (const path of ROUTES) {
    app.all(path, (c) => {
      throw apiError(
        405,
        'method_not_allowed',
        `${c.req.method} is not allowed on ${path}; use GET`,
        {
          headers: { allow: 'GET, HEAD' },
        },
      );
    });
  }
  return app;
}
