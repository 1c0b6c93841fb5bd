import { type ServerType, serve } from '@hono/node-server';
import { loadNetwork } from '../core/model-folder';
import { folderReader } from '../node/fs-atomic';
import { initWasmBackend } from '../node/wasm-backend';
import { createApp } from '../worker/app';
import { tokenProblem } from '../worker/auth';
import { memoryCache } from '../worker/cache';
import type { Limits } from '../worker/limits';
import { createServedNetwork, type ServedNetwork } from '../worker/served-network';

/**
 * The Node entry (the embedded default): the same Hono app as the Worker, on the tfjs wasm
 * backend with the fast kernels, served by @hono/node-server. Node-only.
 */
export interface NodeEndpointOptions {
  modelDir: string;
  port?: number;
  /** Address to listen on (default 127.0.0.1); 0.0.0.0 or :: listens on every interface. */
  host?: string | undefined;
  /** Bearer token; none leaves the endpoint open. */
  token?: string | undefined;
  /** Origins allowed by CORS, or ['*']; none (the default): no CORS headers. */
  corsOrigins?: string[] | undefined;
  /** Where the one line per request goes (default: console.log). */
  log?: ((line: string) => void) | undefined;
  /** Bytes of seeded packets/previews kept in memory (default 64 MiB; 0: no cache). */
  cacheBytes?: number | undefined;
  /** Overrides of the default limits (e.g. the packet queue's bound). */
  limits?: Partial<Limits> | undefined;
  /** Serve only these generators (wrangler.toml's SERVED_GENERATORS; unset: every one). */
  servedGenerators?: readonly string[] | undefined;
}

/** Load and verify the network (throws ModelFolderError naming a bad file), then listen. */
export async function startNodeEndpoint(
  opts: NodeEndpointOptions,
): Promise<{ url: string; network: ServedNetwork; stop: () => Promise<void> }> {
  const problem = opts.token ? tokenProblem(opts.token) : undefined;
  if (problem) throw new Error(`bearer token refused: ${problem}`);
  await initWasmBackend();
  const network = createServedNetwork(await loadNetwork(folderReader(opts.modelDir)), {
    kernels: 'fast',
    limits: opts.limits,
    servedGenerators: opts.servedGenerators,
  });
  const cacheBytes = opts.cacheBytes ?? 64 * 1024 * 1024;
  const app = createApp({
    network: async () => network,
    token: () => opts.token,
    cache: cacheBytes > 0 ? memoryCache({ maxBytes: cacheBytes }) : undefined,
    corsOrigins: () => opts.corsOrigins,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const host = opts.host ?? '127.0.0.1';
  const { server, port } = await new Promise<{ server: ServerType; port: number }>(
    (resolve, reject) => {
      const server = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, (info) =>
        resolve({ server, port: info.port }),
      );
      server.once('error', reject);
    },
  );
  return {
    url: `http://${localName(host)}:${port}`,
    network,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** A name this machine reaches a server on `host` by (the wildcard addresses are not). */
function localName(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
