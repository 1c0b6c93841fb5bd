import type { Limits } from '../worker/limits';
import { startNodeEndpoint } from './node-entry';
import { startWorkerdEndpoint } from './workerd-local';

export type EndpointRuntime = 'workerd' | 'node';

export interface LocalEndpointOptions {
  /** A model folder (models/<network>/ or any exported network). */
  modelDir: string;
  /** 'node' (in this process, the default) or 'workerd' (wrangler's local runtime). */
  runtime?: EndpointRuntime;
  /** 0 or absent: a free port. */
  port?: number;
  /** Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface). */
  host?: string;
  /** Origins allowed by CORS, or ['*']; absent: no CORS (the Worker's CORS_ORIGINS var). */
  corsOrigins?: string[];
  /** Node only: where the per-request log lines go (default: nowhere; `npm run serve` prints them). */
  log?: (line: string) => void;
  /** Bearer token the endpoint requires; absent: open. */
  token?: string;
  /** Packet queue bounds (the Worker's MAX_CONCURRENT_PACKETS / MAX_QUEUED_PACKETS vars). */
  limits?: Pick<Partial<Limits>, 'maxConcurrentPackets' | 'maxQueuedPackets'>;
  /** Serve only these generators (the Worker's SERVED_GENERATORS var); absent: every one. */
  servedGenerators?: string[];
  /**
   * workerd only: wait until /healthz answers with the network loaded (default true);
   * false resolves as soon as workerd listens (the first request then loads the network).
   */
  waitUntilLoaded?: boolean;
}

export interface LocalEndpoint {
  /** Base URL, e.g. http://127.0.0.1:8787 (no trailing slash). */
  url: string;
  /**
   * The runtime's own socket: the same as `url` for node; for workerd, workerd itself without
   * wrangler's dev proxy in front (which does not pass on a client's disconnect).
   */
  directUrl: string;
  networkId: string;
  runtime: EndpointRuntime;
  stop: () => Promise<void>;
}

/**
 * Start one endpoint for one model folder on 127.0.0.1 and resolve once it answers
 * /healthz with the network loaded. Rejects, naming the file, for a tampered or malformed
 * model. Node-only (it starts servers); several can run side by side.
 */
export async function startLocalEndpoint(opts: LocalEndpointOptions): Promise<LocalEndpoint> {
  const runtime = opts.runtime ?? 'node';
  const common = {
    modelDir: opts.modelDir,
    port: opts.port ?? 0,
    host: opts.host,
    token: opts.token,
    limits: opts.limits,
    corsOrigins: opts.corsOrigins,
    servedGenerators: opts.servedGenerators,
  };
  if (runtime === 'node') {
    const ep = await startNodeEndpoint({ ...common, log: opts.log ?? (() => undefined) });
    return {
      url: ep.url,
      directUrl: ep.url,
      networkId: ep.network.net.manifest.networkId,
      runtime,
      stop: ep.stop,
    };
  }
  const ep = await startWorkerdEndpoint({
    ...common,
    waitUntilLoaded: opts.waitUntilLoaded ?? true,
  });
  return { ...ep, runtime };
}
