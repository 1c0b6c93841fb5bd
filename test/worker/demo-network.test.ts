import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { quietWrangler } from '../../src/worker-host/workerd-local';
import { readPacket } from './helpers';

/** The bar on a real trained network: the committed demo net-a, in workerd. */
const MODEL_DIR = 'models/net-a';
let ep: LocalEndpoint;
let node: LocalEndpoint;

beforeAll(async () => {
  expect(existsSync(`${MODEL_DIR}/manifest.json`), `${MODEL_DIR} is committed`).toBe(true);
  quietWrangler();
  await initWasmBackend();
  [ep, node] = await Promise.all([
    startLocalEndpoint({ modelDir: MODEL_DIR, runtime: 'workerd' }),
    startLocalEndpoint({ modelDir: MODEL_DIR, runtime: 'node' }),
  ]);
});

afterAll(async () => {
  await Promise.all([ep?.stop(), node?.stop()]);
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
    const fromNode = await fetch(q.replace(ep.url, node.url));
    expect(Buffer.from(await fromNode.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('serves class-mixture packets (the demo networks carry class mixtures), the same bytes under Node', async () => {
    const q = (url: string) =>
      `${url}/v1/packet?count=200&seed=5&threshold=0.9&generator=class-mixture&classes=3,4,6,7,9`;
    const a = await fetch(q(ep.url));
    const bytes = Buffer.from(await a.clone().arrayBuffer());
    const p = await readPacket(a, 0.9);
    expect(p.metadata.generator).toBe('class-mixture');
    expect(p.metadata.perClass).toEqual({ '3': 40, '4': 40, '6': 40, '7': 40, '9': 40 });
    const fromNode = Buffer.from(await (await fetch(q(node.url))).arrayBuffer());
    expect(fromNode.equals(bytes)).toBe(true);
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
