import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { quietWrangler } from '../../src/worker-host/workerd-local';
import { readPacket } from './helpers';

/** The bar on a real trained network: the committed demo net-a, in workerd. */
const MODEL_DIR = 'models/net-a';
let ep: LocalEndpoint;

beforeAll(async () => {
  expect(existsSync(`${MODEL_DIR}/manifest.json`), `${MODEL_DIR} is committed`).toBe(true);
  quietWrangler();
  await initWasmBackend();
  ep = await startLocalEndpoint({ modelDir: MODEL_DIR, runtime: 'workerd' });
});

afterAll(async () => {
  await ep?.stop();
});

describe('demo network net-a in workerd', () => {
  it('serves exactly 1024 samples at threshold 0.9, all confident, the same bytes twice', async () => {
    const q = `${ep.url}/v1/packet?count=1024&seed=7&threshold=0.9`;
    const a = await fetch(q);
    const bytes = Buffer.from(await a.clone().arrayBuffer());
    const p = await readPacket(a, 0.9);
    expect(p.metadata.kept).toBe(1024);
    expect(p.metadata.networkId).toBe('net-a');
    expect(p.metadata.classIds).toEqual([3, 4, 6, 7, 9]);
    const counts = Object.values(p.metadata.perClass);
    // a trained generator covers every class of its network
    expect(counts.length).toBe(5);
    expect(Math.min(...counts)).toBeGreaterThan(50);
    const b = Buffer.from(await (await fetch(q)).arrayBuffer());
    expect(b.equals(bytes)).toBe(true);
  });

  it('honours per-class quotas with the class-prior generator', async () => {
    const p = await readPacket(
      await fetch(
        `${ep.url}/v1/packet?count=100&seed=3&threshold=0.9&generator=class-prior&classes=4,9`,
      ),
      0.9,
    );
    expect(p.metadata.perClass).toEqual({ '3': 0, '4': 50, '6': 0, '7': 0, '9': 50 });
  });
});
