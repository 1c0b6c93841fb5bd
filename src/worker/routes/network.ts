import { Hono } from 'hono';
import type { AppEnv } from '../app';
import { publicNetwork } from '../served-network';

/** `GET /v1/network`: the public part of the manifest, the generators offered and the limits. */
export const networkRoutes = new Hono<AppEnv>().get('/network', (c) => {
  c.header('cache-control', 'no-cache');
  return c.json(publicNetwork(c.get('network')));
});
