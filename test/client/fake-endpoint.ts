import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodePacket, type PacketMetadata } from '../../src/core/packet';
import { createRng } from '../../src/core/rng';

/**
 * A minimal stand-in for the edge endpoint: serves `/v1/network` and `/v1/packet` with packets
 * encoded by src/core/packet.ts, and lets a test inject faults per request.
 */
export interface FakeNetwork {
  networkId: string;
  classes: number[];
  modelDigest: string;
  imageShape: [number, number, number];
  /** Samples for a request: images [count*px] bytes and soft labels [count*K]. */
  sample?: (count: number, seed: number) => { images: Uint8Array; softLabels: Float32Array };
}

export type Fault =
  | { kind: 'status'; status: number }
  | { kind: 'truncate'; bytes: number }
  | { kind: 'cut'; bytes: number }
  | { kind: 'hang' }
  | { kind: 'metadata'; patch: Record<string, unknown> }
  | { kind: 'network-json'; body: unknown };

export interface FakeEndpoint {
  url: string;
  requests: string[];
  maxInFlight: number;
  /** Fault for the n-th request (0-based) of a path prefix, or undefined. */
  faults: ((path: string, n: number) => Fault | undefined)[];
  stop(): Promise<void>;
}

function defaultSample(net: FakeNetwork) {
  const [h, w, c] = net.imageShape;
  return (count: number, seed: number) => {
    const rng = createRng(seed);
    const k = net.classes.length;
    const images = new Uint8Array(count * h * w * c);
    for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
    const softLabels = new Float32Array(count * k);
    for (let i = 0; i < count; i++) {
      const top = rng.int(k);
      // confidence spread over 0.5..1 so thresholds drop some
      const conf = 0.5 + 0.5 * rng.next();
      for (let j = 0; j < k; j++)
        softLabels[i * k + j] = j === top ? conf : (1 - conf) / (k - 1 || 1);
    }
    return { images, softLabels };
  };
}

export function makePacketBytes(
  net: FakeNetwork,
  q: { count: number; seed: number; threshold: number },
  patch: Record<string, unknown> = {},
): Uint8Array {
  const [h, w, c] = net.imageShape;
  const px = h * w * c;
  const k = net.classes.length;
  const { images, softLabels } = (net.sample ?? defaultSample(net))(q.count, q.seed);
  const keep: number[] = [];
  for (let i = 0; i < q.count; i++) {
    let top = 0;
    for (let j = 0; j < k; j++) top = Math.max(top, softLabels[i * k + j]!);
    if (top >= q.threshold) keep.push(i);
  }
  const outImg = new Uint8Array(keep.length * px);
  const outLab = new Float32Array(keep.length * k);
  // perClass follows the class ids the packet claims (patched or not): the packet stays
  // self-consistent, so the client's checks of what it claims are what a test exercises.
  const ids = (patch.classIds as number[] | undefined) ?? net.classes;
  const perClass: Record<string, number> = {};
  keep.forEach((i, n) => {
    outImg.set(images.subarray(i * px, (i + 1) * px), n * px);
    outLab.set(softLabels.subarray(i * k, (i + 1) * k), n * k);
    let arg = 0;
    for (let j = 1; j < k; j++) if (softLabels[i * k + j]! > softLabels[i * k + arg]!) arg = j;
    const id = String(ids[arg]);
    perClass[id] = (perClass[id] ?? 0) + 1;
  });
  const metadata: PacketMetadata = {
    formatVersion: 1,
    networkId: net.networkId,
    classIds: net.classes,
    generator: 'vae-prior',
    modelDigest: net.modelDigest,
    seed: q.seed,
    threshold: q.threshold,
    requested: q.count,
    generated: q.count,
    kept: keep.length,
    perClass,
    ...patch,
  } as PacketMetadata;
  if ('formatVersion' in patch) {
    // encodePacket does not validate metadata, so a future version encodes as is
  }
  return encodePacket({ metadata, images: outImg, imageShape: net.imageShape, softLabels: outLab });
}

export async function startFakeEndpoint(
  net: FakeNetwork,
  opts: { token?: string; delayMs?: number } = {},
): Promise<FakeEndpoint> {
  const counts = new Map<string, number>();
  let inFlight = 0;
  const state: FakeEndpoint = {
    url: '',
    requests: [],
    maxInFlight: 0,
    faults: [],
    stop: async () => {},
  };
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    state.requests.push(`${url.pathname}${url.search}`);
    const n = counts.get(url.pathname) ?? 0;
    counts.set(url.pathname, n + 1);
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    try {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'token required' } }));
        return;
      }
      const fault = state.faults.map((f) => f(url.pathname, n)).find((f) => f !== undefined);
      if (fault?.kind === 'hang') return; // never answers
      if (fault?.kind === 'status') {
        res.writeHead(fault.status, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { code: 'injected', message: `injected ${fault.status}` } }),
        );
        return;
      }
      if (url.pathname === '/v1/network') {
        const body =
          fault?.kind === 'network-json'
            ? fault.body
            : {
                networkId: net.networkId,
                classes: net.classes,
                modelDigest: net.modelDigest,
                dataset: { name: 'fake', imageShape: net.imageShape },
                maxCount: 1000,
              };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
        return;
      }
      if (url.pathname === '/v1/packet') {
        const q = {
          count: Number(url.searchParams.get('count')),
          seed: Number(url.searchParams.get('seed')),
          threshold: Number(url.searchParams.get('threshold') ?? 0),
        };
        const bytes = makePacketBytes(net, q, fault?.kind === 'metadata' ? fault.patch : {});
        if (fault?.kind === 'truncate') {
          const body = bytes.subarray(0, fault.bytes);
          res.writeHead(200, { 'content-length': body.length });
          res.end(body);
          return;
        }
        if (fault?.kind === 'cut') {
          res.writeHead(200, { 'content-length': bytes.length });
          res.write(bytes.subarray(0, fault.bytes));
          res.socket?.destroy();
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': bytes.length,
        });
        res.end(bytes);
        return;
      }
      res.writeHead(404);
      res.end();
    } finally {
      inFlight--;
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}
