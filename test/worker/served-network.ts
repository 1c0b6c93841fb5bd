import { beforeAll, expect } from 'vitest';
import { initWasmBackend } from '../../src/node/wasm-backend';
import type { SchedulerStats } from '../../src/worker/scheduler';
import type { LocalEndpoint } from '../../src/worker-host/local-endpoint';
import { quietWrangler } from '../../src/worker-host/workerd-local';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/**
 * The set-up of a test file that serves a tiny network on local endpoints (Node and workerd):
 * wrangler kept off the network, the wasm backend up, the network written once. Call it at
 * the top of the file; `dir` is set before the first test runs.
 */
export function tinyNetworkToServe(opts: { networkId: string; classes: number[] }): {
  dir: string;
} {
  const net = { dir: '' };
  beforeAll(async () => {
    quietWrangler();
    await initWasmBackend();
    net.dir = (await writeTinyNetwork(opts)).dir;
  });
  return net;
}

/** The endpoint's packet scheduler, as its /healthz reports it. */
export async function schedulerLoad(ep: LocalEndpoint): Promise<SchedulerStats> {
  const res = await fetch(`${ep.url}/healthz`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { load: SchedulerStats }).load;
}
