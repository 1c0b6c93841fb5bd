import type { Limits } from '../worker/limits';
import { prepareWorkerBundle } from './worker-bundle';

/**
 * Keep wrangler off the network in everything that starts it, and off the generated
 * wrangler.json: wrangler otherwise watches the config and restarts workerd on a new port
 * when the file is replaced (e.g. by another endpoint of the same network preparing its
 * bundle), which leaves a caller of the old direct address refused. The config is ours to
 * regenerate; a changed network is served by starting its endpoint again.
 */
export function quietWrangler(): void {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  process.env.WRANGLER_SEND_METRICS = 'false';
  process.env.WRANGLER_CI_DISABLE_CONFIG_WATCHING = 'true';
}

/**
 * Serve a model folder in workerd through wrangler's `unstable_startWorker` (local mode, no
 * account, no network). Resolves once /healthz answers 200; a model that fails to load
 * (e.g. a tampered weights file) stops the worker and rejects with the endpoint's message.
 */
export async function startWorkerdEndpoint(opts: {
  modelDir: string;
  port?: number;
  host?: string | undefined;
  token?: string | undefined;
  corsOrigins?: string[] | undefined;
  /** Serve only these generators (the Worker's SERVED_GENERATORS var). */
  servedGenerators?: readonly string[] | undefined;
  /** Packet queue bounds, passed as the Worker's vars. */
  limits?: Pick<Partial<Limits>, 'maxConcurrentPackets' | 'maxQueuedPackets'> | undefined;
  /** Wait for /healthz (loads the network); false returns as soon as workerd listens. */
  waitUntilLoaded?: boolean;
}): Promise<{ url: string; directUrl: string; networkId: string; stop: () => Promise<void> }> {
  quietWrangler();
  const bundle = await prepareWorkerBundle(opts.modelDir);
  const { unstable_DevEnv } = await import('wrangler');
  // unstable_startWorker with one tap: the address of workerd's own socket, behind wrangler's
  // proxy worker (which neither forwards a client's disconnect nor is needed to serve).
  const devEnv = new unstable_DevEnv();
  let reported: (url: string) => void = () => undefined;
  const direct = new Promise<string>((resolve) => {
    reported = resolve;
  });
  const dispatch = devEnv.dispatch.bind(devEnv);
  devEnv.dispatch = (event) => {
    if (event.type === 'reloadComplete') {
      const u = event.proxyData.userWorkerUrl;
      reported(`${u.protocol}//${u.hostname}:${u.port}`);
    }
    dispatch(event);
  };
  const worker = await devEnv.startWorker({
    config: bundle.configPath,
    bindings: {
      ...(opts.token ? { AUTH_TOKEN: { type: 'secret_text', value: opts.token } } : {}),
      ...vars({
        MAX_CONCURRENT_PACKETS: opts.limits?.maxConcurrentPackets,
        MAX_QUEUED_PACKETS: opts.limits?.maxQueuedPackets,
        CORS_ORIGINS: opts.corsOrigins?.join(','),
        SERVED_GENERATORS: opts.servedGenerators?.join(','),
      }),
    },
    dev: {
      server: { hostname: opts.host ?? '127.0.0.1', port: opts.port ?? 0 },
      inspector: false,
      watch: false,
      remote: false,
      persist: false,
      logLevel: 'warn',
    },
  });
  const stop = () => worker.dispose();
  try {
    await worker.ready;
    const url = (await worker.url).origin;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const directUrl = await Promise.race([
      direct,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('wrangler did not report the address of workerd')),
          30_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (opts.waitUntilLoaded === false)
      return { url, directUrl, networkId: bundle.networkId, stop };
    const res = await fetch(`${url}/healthz`);
    if (res.status !== 200) {
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new Error(body.error?.message ?? `healthz answered ${res.status}`);
    }
    return { url, directUrl, networkId: bundle.networkId, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

function vars(v: Record<string, number | string | undefined>) {
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, value]) => value !== undefined)
      .map(([k, value]) => [k, { type: 'plain_text' as const, value: String(value) }]),
  );
}
