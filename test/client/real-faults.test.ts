import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EndpointError,
  fetchNetworkInfo,
  fetchPacketSet,
  initClientBackend,
  type NetworkInfo,
} from '../../src/client';
import { decodePacket, encodePacket, type PacketMetadata } from '../../src/core/packet';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/**
 * Faults in front of a real endpoint: a small proxy forwards every request to the real
 * (Node) endpoint and damages the answer on demand, so the client sees real packets with
 * one thing wrong at a time.
 */
type Fault =
  | { kind: 'status'; status: number; times: number }
  | { kind: 'truncate' }
  | { kind: 'patch'; patch: Partial<Record<keyof PacketMetadata, unknown>> };

let real: LocalEndpoint;
let proxy: Server;
let proxyUrl: string;
let fault: Fault | undefined;
let packetRequests = 0;
const fast = { retries: 3, backoffMs: 5, timeoutMs: 30_000 };

beforeAll(async () => {
  await initClientBackend('wasm');
  const net = await writeTinyNetwork({ networkId: 'net-a', classes: [1, 3, 5] });
  real = await startLocalEndpoint({ modelDir: net.dir, runtime: 'node' });
  proxy = createServer(async (req, res) => {
    const isPacket = (req.url ?? '').startsWith('/v1/packet');
    if (isPacket) packetRequests++;
    if (isPacket && fault?.kind === 'status' && fault.times > 0) {
      fault.times--;
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'injected', message: 'injected failure' } }));
      return;
    }
    const upstream = await fetch(`${real.url}${req.url}`);
    let body: Uint8Array = new Uint8Array(await upstream.arrayBuffer());
    if (isPacket && upstream.ok && fault?.kind === 'truncate')
      body = body.subarray(0, body.length - 100);
    if (isPacket && upstream.ok && fault?.kind === 'patch') {
      const p = decodePacket(body);
      const m = { ...p.metadata, ...fault.patch } as PacketMetadata;
      // Other class ids: perClass moves with them, so the packet stays self-consistent and
      // only the client's check against /v1/network can catch it.
      if (fault.patch.classIds && !fault.patch.perClass) {
        m.perClass = Object.fromEntries(
          p.metadata.classIds.map((id, j) => [String(m.classIds[j]), p.metadata.perClass[id] ?? 0]),
        );
      }
      body = encodePacket({ ...p, metadata: m });
    }
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
      'content-length': body.length,
    });
    res.end(body);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => proxy?.close(() => r()));
  await real?.stop();
});

async function fetchWith(f: Fault | undefined): Promise<unknown> {
  fault = f;
  packetRequests = 0;
  const info: NetworkInfo = await fetchNetworkInfo({ url: proxyUrl }, fast);
  return fetchPacketSet({ url: proxyUrl }, info, {
    ...fast,
    samples: 40,
    chunkSize: 20,
    seed: 9,
    concurrency: 1,
  }).catch((e: unknown) => e);
}

function expectCode(e: unknown, code: string) {
  expect(e).toBeInstanceOf(EndpointError);
  expect((e as EndpointError).code).toBe(code);
  expect((e as EndpointError).message).toContain(proxyUrl);
}

describe('client faults against a real endpoint', () => {
  it('500s then success: same bytes as a clean fetch', async () => {
    const clean = (await fetchWith(undefined)) as { images: Uint8Array; count: number };
    const flaky = (await fetchWith({ kind: 'status', status: 500, times: 2 })) as typeof clean;
    expect(flaky.count).toBe(40);
    expect(packetRequests).toBe(4); // 2 failures + 2 chunks
    expect(Buffer.from(flaky.images).equals(Buffer.from(clean.images))).toBe(true);
  });

  it('4xx: no retry', async () => {
    expectCode(await fetchWith({ kind: 'status', status: 404, times: 5 }), 'bad-request');
    expect(packetRequests).toBe(1);
  });

  it('truncated body', async () => {
    expectCode(await fetchWith({ kind: 'truncate' }), 'format');
  });

  it('wrong digest', async () => {
    expectCode(
      await fetchWith({ kind: 'patch', patch: { modelDigest: 'e'.repeat(64) } }),
      'digest-mismatch',
    );
  });

  it('class ids that clash with the network', async () => {
    expectCode(await fetchWith({ kind: 'patch', patch: { classIds: [1, 3, 9] } }), 'class-clash');
  });

  it('schema mismatch (format version)', async () => {
    const e = await fetchWith({ kind: 'patch', patch: { formatVersion: 2 } });
    expectCode(e, 'format');
    expect((e as Error).message).toMatch(/formatVersion/);
  });

  it('endpoint down', async () => {
    const net = await writeTinyNetwork({ networkId: 'net-z', classes: [0] });
    const gone = await startLocalEndpoint({ modelDir: net.dir, runtime: 'node' });
    await gone.stop();
    const e = await fetchNetworkInfo({ url: gone.url }, { ...fast, retries: 1 }).catch(
      (x: unknown) => x,
    );
    expect((e as EndpointError).code).toBe('unreachable');
    expect((e as EndpointError).message).toContain(gone.url);
  });
});
