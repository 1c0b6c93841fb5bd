import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { prepareWorkerBundle } from '../../src/worker-host/worker-bundle';
import { startWorkerdEndpoint } from '../../src/worker-host/workerd-local';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/**
 * Found under load (test/worker/load.test.ts, 2026-12-07): wrangler watches the generated
 * wrangler.json and restarts workerd on a new port when the file is replaced, so a caller of
 * the endpoint's direct address was refused once another endpoint of the same network
 * prepared its bundle. The endpoint must keep serving at its address.
 */
describe('a workerd endpoint whose generated config is replaced', () => {
  let endpoint: Awaited<ReturnType<typeof startWorkerdEndpoint>> | undefined;
  let dir: string;

  beforeAll(async () => {
    await initWasmBackend();
    ({ dir } = await writeTinyNetwork({ networkId: 'net-cw', classes: [0, 1] }));
    endpoint = await startWorkerdEndpoint({ modelDir: dir });
  });

  afterAll(async () => {
    await endpoint?.stop();
  });

  it('keeps answering at its direct address', async () => {
    const { configPath } = await prepareWorkerBundle(dir);
    // what another preparation did before 2026-12-07: replace the file with itself
    await writeFileAtomic(configPath, await readFile(configPath));
    await new Promise((r) => setTimeout(r, 3000)); // a reload takes about a second
    const res = await fetch(`${endpoint!.directUrl}/healthz`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }, 120_000);
});
