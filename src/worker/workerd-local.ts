import type { Limits } from './limits';
import { prepareWorkerBundle } from './worker-bundle';

/** Keep wrangler off the network in everything that starts it. */
export function quietWrangler(): void {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  process.env.WRANGLER_SEND_METRICS = 'false';
}

/**
 * Serve a model folder in workerd through wrangler's `unstable_startWorker` (local mode, no
 * account, no network). Resolves once /healthz answers 200; a model that fails to load
 * (e.g. a tampered weights file) stops the worker and rejects with the endpoint's message.
 */
export async function startWorkerdEndpoint(opts: {
  modelDir: string;
  port?: number;
  token?: string | undefined;
  /** Packet queue bounds, passed as the Worker's vars. */
  limits?: Pick<Partial<Limits>, 'maxConcurrentPackets' | 'maxQueuedPackets'> | undefined;
  /** Wait for /healthz (loads the network); false returns as soon as workerd listens. */
  waitUntilLoaded?: boolean;
}): Promise<{ url: string; networkId: string; stop: () => Promise<void> }> {
  quietWrangler();
  const bundle = await prepareWorkerBundle(opts.modelDir);
  const { unstable_startWorker } = await import('wrangler');
  const worker = await unstable_startWorker({
    config: bundle.configPath,
    bindings: {
      ...(opts.token ? { AUTH_TOKEN: { type: 'secret_text', value: opts.token } } : {}),
      ...vars({
        MAX_CONCURRENT_PACKETS: opts.limits?.maxConcurrentPackets,
        MAX_QUEUED_PACKETS: opts.limits?.maxQueuedPackets,
      }),
    },
    dev: {
      server: { hostname: '127.0.0.1', port: opts.port ?? 0 },
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
    if (opts.waitUntilLoaded === false) return { url, networkId: bundle.networkId, stop };
    const res = await fetch(`${url}/healthz`);
    if (res.status !== 200) {
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new Error(body.error?.message ?? `healthz answered ${res.status}`);
    }
    return { url, networkId: bundle.networkId, stop };
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
