import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointError, fetchNetworkInfo } from '../../src/client';
import { fetchPacket, type NetworkInfo } from '../../src/client/endpoint';

/**
 * A hostile endpoint: a sane /v1/network, then 800 MB of zeros as the "packet" (or as the
 * network description), with or without a Content-Length. The client must refuse each without
 * holding the body in memory.
 */
const HUGE = 800 * 1024 * 1024;
const ZEROS = new Uint8Array(1 << 16);

async function streamZeros(res: ServerResponse, total: number): Promise<void> {
  let sent = 0;
  while (sent < total && !res.destroyed) {
    const n = Math.min(ZEROS.length, total - sent);
    sent += n;
    if (!res.write(ZEROS.subarray(0, n))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}

const NETWORK = {
  networkId: 'net-z',
  classes: [0, 1, 2, 3, 4],
  modelDigest: 'c'.repeat(64),
  imageShape: [28, 28, 1],
};

let url = '';
let streamed = 0;
const server = createServer((req, res) => {
  res.on('error', () => {});
  const declare = req.url?.includes('declare=1') ?? false;
  const headers = declare ? { 'content-length': String(HUGE) } : {};
  if (req.url?.startsWith('/huge-network/v1/network')) {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.write('{"networkId":"net-z","pad":"');
    streamed++;
    void streamZeros(res, HUGE);
  } else if (req.url?.startsWith('/v1/network')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(NETWORK));
  } else if (req.url?.startsWith('/v1/packet')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...headers });
    streamed++;
    void streamZeros(res, HUGE);
  } else {
    res.writeHead(404).end();
  }
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function rejection(p: Promise<unknown>): Promise<EndpointError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EndpointError);
  return e as EndpointError;
}

describe('bounded reads: an 800 MB body', () => {
  const fast = { retries: 0, timeoutMs: 20_000 };

  for (const declare of [false, true]) {
    it(`is refused as a packet ${declare ? 'by its Content-Length' : 'while streaming'}, RSS growth < 50 MB`, async () => {
      const info: NetworkInfo = await fetchNetworkInfo({ url }, fast);
      const before = process.memoryUsage().rss;
      const e = await rejection(
        fetchPacket(
          { url },
          info,
          { count: 100, seed: 1, threshold: 0 },
          {
            ...fast,
            // the fake serves the query string as it likes; declare=1 adds a Content-Length
            fetch: (u, init) => fetch(`${String(u)}${declare ? '&declare=1' : ''}`, init),
          },
        ),
      );
      const growth = process.memoryUsage().rss - before;
      console.log(
        `800 MB packet body (declare=${declare}): client RSS growth ${(growth / 2 ** 20).toFixed(1)} MB`,
      );
      expect(growth).toBeLessThan(50 * 1024 * 1024);
      expect(e.code).toBe('format');
      expect(e.message).toContain(url);
      expect(e.message).toMatch(/GET \/v1\/packet\?count=100.* larger than \d+ bytes/);
    });
  }

  it('is refused as /v1/network too', async () => {
    for (const declare of ['', '?declare=1']) {
      const before = process.memoryUsage().rss;
      const e = await rejection(
        fetchNetworkInfo(
          { url: `${url}/huge-network` },
          { ...fast, fetch: (u, init) => fetch(`${String(u)}${declare}`, init) },
        ),
      );
      const growth = process.memoryUsage().rss - before;
      console.log(
        `800 MB /v1/network body (${declare || 'streamed'}): client RSS growth ${(growth / 2 ** 20).toFixed(1)} MB`,
      );
      expect(growth).toBeLessThan(50 * 1024 * 1024);
      expect(e.message).toMatch(/GET \/v1\/network: the body is larger than 1048576 bytes/);
    }
    expect(streamed).toBeGreaterThanOrEqual(4);
  });
});

describe('bounded reads: claims that would inflate the bound', () => {
  it('refuses a packet request whose bound passes the hard cap, before fetching', async () => {
    const info: NetworkInfo = {
      endpoint: 'http://127.0.0.1:9',
      networkId: 'net-z',
      classes: [0, 1],
      imageShape: [4096, 4096, 3],
      modelDigest: 'c'.repeat(64),
      raw: {},
    };
    let fetched = 0;
    const e = await rejection(
      fetchPacket(
        { url: info.endpoint },
        info,
        { count: 500, seed: 1, threshold: 0 },
        {
          retries: 0,
          fetch: async () => {
            fetched++;
            return new Response('');
          },
        },
      ),
    );
    expect(fetched).toBe(0);
    expect(e.message).toMatch(/more than the 268435456 this client reads in one packet/);
  });
});
