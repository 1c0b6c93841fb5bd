import { describe, expect, it } from 'vitest';
import { readBounded } from '../../src/core/bounded-read';

/** A body of `chunks` chunks of `size` bytes that records how many were pulled. */
function body(chunks: number, size: number, contentLength?: number) {
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(ctl) {
      if (pulled === chunks) return ctl.close();
      pulled++;
      ctl.enqueue(new Uint8Array(size).fill(pulled));
    },
    cancel() {
      cancelled = true;
    },
  });
  const headers = new Headers(
    contentLength === undefined ? {} : { 'content-length': String(contentLength) },
  );
  return { message: { headers, body: stream }, pulled: () => pulled, cancelled: () => cancelled };
}

describe('readBounded', () => {
  it('returns a body within the cap whole', async () => {
    const b = body(3, 10);
    expect(Array.from((await readBounded(b.message, 30))!)).toEqual([
      ...new Array(10).fill(1),
      ...new Array(10).fill(2),
      ...new Array(10).fill(3),
    ]);
  });

  it('over the cap: cancelled at once by default, by Content-Length or while streaming', async () => {
    const declared = body(10, 10, 100);
    expect(await readBounded(declared.message, 50)).toBeUndefined();
    expect(declared.pulled()).toBeLessThanOrEqual(1);
    expect(declared.cancelled()).toBe(true);
    const streamed = body(10, 10);
    expect(await readBounded(streamed.message, 50)).toBeUndefined();
    expect(streamed.pulled()).toBeLessThanOrEqual(7);
    expect(streamed.cancelled()).toBe(true);
  });

  it('with drainBytes: a body over the cap by at most that much is read to its end, not kept', async () => {
    const declared = body(10, 10, 100);
    expect(await readBounded(declared.message, 50, 50)).toBeUndefined();
    expect(declared.pulled()).toBe(10);
    expect(declared.cancelled()).toBe(false);
    const streamed = body(10, 10);
    expect(await readBounded(streamed.message, 50, 50)).toBeUndefined();
    expect(streamed.pulled()).toBe(10);
    // beyond cap + drain: still cancelled, having read no more than the two
    const huge = body(1000, 10);
    expect(await readBounded(huge.message, 50, 50)).toBeUndefined();
    expect(huge.pulled()).toBeLessThanOrEqual(13);
    expect(huge.cancelled()).toBe(true);
    const hugeDeclared = body(1000, 10, 10_000);
    expect(await readBounded(hugeDeclared.message, 50, 50)).toBeUndefined();
    expect(hugeDeclared.pulled()).toBeLessThanOrEqual(1);
    expect(hugeDeclared.cancelled()).toBe(true);
  });
});
