import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { yieldToEventLoop } from '../../src/worker/scheduler';

/** Synchronous work standing in for one batch of generation. */
function busy(ms: number): void {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    // spin
  }
}

describe('yieldToEventLoop', () => {
  // Two generations at once (maxConcurrentPackets = 2) once kept Node's timers phase busy:
  // each one's setTimeout(0) had expired by the time the other's batch ended, so no socket was
  // read until a packet was done. Here a TCP ping-pong counts the sockets read meanwhile.
  it('lets sockets be read between the batches of two interleaved jobs', async () => {
    // A reset from the other side at the end is expected, not an error of the test.
    const server = createServer((s) => {
      s.on('data', (d) => s.write(d));
      s.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    client.on('error', () => undefined);
    let pongs = 0;
    let stop = false;
    client.on('data', () => {
      pongs++;
      if (!stop) client.write('p');
    });
    client.write('p');
    await new Promise((r) => setTimeout(r, 20)); // the first round trip, before any batch
    const before = pongs;
    const job = async () => {
      for (let i = 0; i < 10; i++) {
        busy(3);
        await yieldToEventLoop();
      }
    };
    await Promise.all([job(), job()]);
    const during = pongs - before;
    stop = true;
    client.destroy();
    await new Promise((r) => server.close(r));
    // 20 batches in ~10 loop iterations; a round trip needs ~2 of them.
    expect(during).toBeGreaterThanOrEqual(3);
  });
});
