import { Hono } from 'hono';
import type { AppEnv } from '../app';
import type { ServedNetwork } from '../served-network';

/**
 * `GET /healthz`: open even when a token is set; 503 when the network failed to load. `load`
 * is the packet scheduler's state (running, queued, counters): never blocked by generation.
 */
export function healthRoutes(load: (env: unknown) => Promise<ServedNetwork>) {
  return new Hono<AppEnv>().get('/healthz', async (c) => {
    const served = await load(c.env);
    return c.json({
      status: 'ok',
      networkId: served.net.manifest.networkId,
      modelDigest: served.net.digest,
      load: served.scheduler.stats(),
    });
  });
}
