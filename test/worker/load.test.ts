import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchedulerStats } from '../../src/worker/scheduler';
import {
  type EndpointRuntime,
  type LocalEndpoint,
  startLocalEndpoint,
} from '../../src/worker-host/local-endpoint';
import { confidenceQuantile, expectJsonError, readPacket } from './helpers';
import { schedulerLoad, tinyNetworkToServe } from './served-network';

/**
 * Fairness under load, over real HTTP, in Node and in real workerd: generation yields between
 * batches, abandoned requests stop, the packet queue is bounded (503 + Retry-After).
 * `/healthz` reports the scheduler's state, which is what these tests observe (no timings).
 */
const net = tinyNetworkToServe({ networkId: 'net-l', classes: [0, 1, 2] });

/** Per-test timeout: these tests generate thousands of samples on a possibly shared machine. */
const HEAVY = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A client that sends a GET and then goes away by resetting its connection. (workerd notices
 * a reset, not a half-close; on Cloudflare the edge cancels the request either way.)
 */
function abandonedGet(base: string, path: string): { goAway: () => void } {
  const u = new URL(base);
  const socket = connect(Number(u.port), u.hostname, () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
  });
  socket.on('error', () => undefined);
  return { goAway: () => socket.resetAndDestroy() };
}

describe.each<EndpointRuntime>(['node', 'workerd'])('under load (%s)', (runtime) => {
  let roomy: LocalEndpoint;
  let tight: LocalEndpoint;
  /** Aborts, in afterAll, every request a test may have left in flight. */
  const outstanding = new AbortController();
  let selective: number;
  let fullPacketBatches = 0;

  const load = schedulerLoad;
  /** Poll /healthz until `ok` holds (at most 240 s: the machine may be shared); returns it. */
  const until = async (ep: LocalEndpoint, ok: (s: SchedulerStats) => boolean) => {
    for (const t0 = Date.now(); Date.now() - t0 < 240_000; ) {
      const s = await load(ep);
      if (ok(s)) return s;
      await sleep(50);
    }
    throw new Error(`healthz never reported the expected load: ${JSON.stringify(await load(ep))}`);
  };

  beforeAll(async () => {
    // Every request goes to the runtime's own socket (workerd without wrangler's dev proxy,
    // which is not what is tested here and does not pass on a client's disconnect).
    const start = async (limits: { maxConcurrentPackets: number; maxQueuedPackets: number }) => {
      const ep = await startLocalEndpoint({
        modelDir: net.dir,
        runtime,
        log: () => undefined,
        limits,
      });
      return { ...ep, url: ep.directUrl };
    };
    // allSettled: an endpoint that started is stopped in afterAll even if the other failed
    const started = await Promise.allSettled([
      start({ maxConcurrentPackets: 2, maxQueuedPackets: 100 }),
      start({ maxConcurrentPackets: 1, maxQueuedPackets: 1 }),
    ]);
    [roomy, tight] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [
      LocalEndpoint,
      LocalEndpoint,
    ];
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    // Keeps about half: a count=1024 packet takes ~16 batches.
    selective = await confidenceQuantile((path, init) => fetch(`${roomy.url}${path}`, init), 0.5);
  });

  afterAll(async () => {
    // A failed test may leave requests in flight: end them first, so that stopping the
    // endpoints does not wait on them (a workerd left running outlives the test run).
    outstanding.abort();
    await Promise.allSettled([roomy?.stop(), tight?.stop()]);
  });

  it(
    'answers /healthz and /v1/network while six count=1024 packets are generated',
    async () => {
      const done: boolean[] = Array.from({ length: 6 }, () => false);
      const packets = done.map(async (_, i) => {
        const res = await fetch(
          `${roomy.url}/v1/packet?count=1024&seed=${i + 1}&threshold=${selective}`,
          { signal: outstanding.signal },
        );
        const p = await readPacket(res, selective);
        done[i] = true;
        return p;
      });
      // A /healthz answer that counts all six in flight was answered while they were generated.
      const during = await until(roomy, (s) => s.running + s.queued === 6);
      expect(done.every((d) => !d)).toBe(true);
      expect(during.running).toBe(2);
      const net = await fetch(`${roomy.url}/v1/network`);
      expect(net.status).toBe(200);
      await net.arrayBuffer();
      const after = await load(roomy);
      expect(after.running + after.queued).toBeGreaterThan(0);
      const results = await Promise.all(packets);
      fullPacketBatches = Math.min(...results.map((p) => Math.ceil(p.metadata.generated / 128)));
      expect(fullPacketBatches).toBeGreaterThan(4);
    },
    HEAVY,
  );

  it(
    'stops generating a request whose client went away',
    async () => {
      expect(fullPacketBatches).toBeGreaterThan(4);
      const before = await until(roomy, (s) => s.running === 0 && s.queued === 0);
      const client = abandonedGet(
        roomy.directUrl,
        // A seed no other test asked for: a cached packet would be answered without generating.
        `/v1/packet?count=1024&seed=4242&threshold=${selective}`,
      );
      await until(roomy, (s) => s.batches > before.batches);
      client.goAway();
      const stopped = await until(roomy, (s) => s.aborted > before.aborted && s.running === 0);
      await sleep(300);
      const later = await load(roomy);
      expect(later.batches).toBe(stopped.batches);
      expect(later.batches - before.batches).toBeLessThan(fullPacketBatches);
      // The endpoint still serves.
      await readPacket(await fetch(`${roomy.url}/v1/packet?count=8&seed=2&threshold=0`), 0);
    },
    HEAVY,
  );

  it(
    'answers 503 with Retry-After beyond the queue bound, then serves again',
    async () => {
      const q = (seed: number) =>
        `${tight.url}/v1/packet?count=1024&seed=${seed}&threshold=${selective}`;
      const abort = new AbortController();
      const first = fetch(q(1), { signal: abort.signal }).catch((e: Error) => e);
      await until(tight, (s) => s.running === 1);
      const second = fetch(q(2), { signal: abort.signal }).catch((e: Error) => e);
      await until(tight, (s) => s.queued === 1);
      const third = await fetch(q(3));
      const body = await expectJsonError(third, 503, 'overloaded');
      expect(body.error.code).toBe('overloaded');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      abort.abort();
      await Promise.all([first, second]);
      await until(tight, (s) => s.running === 0 && s.queued === 0);
      expect((await load(tight)).rejected).toBe(1);
      await readPacket(await fetch(`${tight.url}/v1/packet?count=8&seed=3&threshold=0`), 0);
    },
    HEAVY,
  );

  it(
    'answers 100 concurrent mixed requests without an error',
    async () => {
      const paths = Array.from({ length: 100 }, (_, i) => {
        switch (i % 5) {
          case 0:
          case 1:
            return `/v1/packet?count=${16 + (i % 7) * 8}&seed=${i}&threshold=0`;
          case 2:
            return `/v1/preview.png?count=16&seed=${i}&threshold=0`;
          case 3:
            return '/v1/network';
          default:
            return '/healthz';
        }
      });
      const statuses = await Promise.all(
        paths.map(async (p) => {
          const r = await Promise.race([
            (async () => {
              const res = await fetch(`${roomy.url}${p}`);
              await res.arrayBuffer();
              return res.status;
            })(),
            sleep(60_000).then(() => `no answer in 60 s: ${p}`),
          ]);
          return r;
        }),
      );
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    },
    HEAVY,
  );
});
