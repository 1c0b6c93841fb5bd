import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LABEL_MEDIA_TYPE,
  LabelResponseSchema,
  NetworkDescriptionSchema,
} from '../../src/core/api';
import { createScorer, imagesTensor, scoreImages } from '../../src/core/calibration';
import { type LoadedNetwork, loadNetwork } from '../../src/core/model-folder';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { createApp } from '../../src/worker/app';
import type { Limits } from '../../src/worker/limits';
import { createServedNetwork, type ServedNetwork } from '../../src/worker/served-network';
import {
  syntheticImages,
  writeCalibratedTinyNetwork,
  writeTinyNetwork,
} from '../fixtures/tiny-network';
import { expectJsonError } from './helpers';

/** `POST /v1/label` in-process (app.request): answers, refusals, the queue, no tensor leak. */
const CLASSES = [1, 3, 5];
const PX = 28 * 28;
const TOKEN = 'l-token';
let net: LoadedNetwork;
let plain: LoadedNetwork;

beforeAll(async () => {
  await initWasmBackend();
  const { dir } = await writeCalibratedTinyNetwork({ networkId: 'net-c', classes: CLASSES });
  net = await loadNetwork(folderReader(dir));
  plain = await loadNetwork(folderReader((await writeTinyNetwork({ networkId: 'net-p' })).dir));
});

function appFor(served: ServedNetwork, opts: { token?: string; cors?: string[] } = {}) {
  const app = createApp({
    network: async () => served,
    token: () => opts.token,
    log: () => undefined,
    ...(opts.cors ? { corsOrigins: () => opts.cors } : {}),
  });
  return (body: BodyInit | null, init: RequestInit = {}) =>
    app.request(
      new Request('http://endpoint/v1/label', {
        method: 'POST',
        body,
        ...init,
        headers: {
          'content-type': LABEL_MEDIA_TYPE,
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(init.headers as Record<string, string>),
        },
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit),
    );
}

const serve = (n: LoadedNetwork, limits: Partial<Limits> = {}) =>
  createServedNetwork(n, { kernels: 'fast', limits });

/** A body stream of `chunks` chunks of `size` bytes; `pulled()` says how many were read. */
function chunkedBody(chunks: number, size: number) {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === chunks) return c.close();
      sent++;
      c.enqueue(new Uint8Array(size).fill(sent));
    },
  });
  return { stream, pulled: () => sent };
}

describe('POST /v1/label', () => {
  it('loads calibration.json from the folder and says so in GET /v1/network', async () => {
    expect(net.calibration?.classes).toEqual(CLASSES);
    expect(plain.calibration).toBeUndefined();
    for (const [n, labels] of [
      [net, true],
      [plain, false],
    ] as const) {
      const app = createApp({ network: async () => serve(n), token: () => undefined });
      const d = await (await app.request('/v1/network')).json();
      expect(NetworkDescriptionSchema.strict().safeParse(d).error).toBeUndefined();
      expect(d).toMatchObject({ labels, limits: { maxLabelCount: 1024 } });
    }
  });

  it('answers what scoreImages says of the same images in-process, in batches', async () => {
    const served = serve(net, { batchSize: 16 });
    const data = syntheticImages(CLASSES, 40, 3);
    const res = await appFor(served)(data.images);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = LabelResponseSchema.parse(await res.json());
    // 40 images in batches of 16: three batches, counted by the endpoint's scheduler
    expect(served.scheduler.stats()).toMatchObject({ batches: 3, completed: 1 });
    expect(body).toMatchObject({
      networkId: 'net-c',
      modelDigest: net.digest,
      classes: CLASSES,
      count: 40,
    });
    // The reference: a scorer of its own, all 40 images in one call.
    const scorer = createScorer(net.classifier, net.calibration!);
    const x = imagesTensor(data, 0, 40);
    const want = scoreImages(scorer, x);
    x.dispose();
    scorer.dispose();
    body.score.forEach((s, i) => {
      expect(s).toBeCloseTo(want.score[i]!, 6);
    });
    body.probabilities.forEach((row, i) => {
      row.forEach((p, j) => {
        expect(p).toBeCloseTo(want.probabilities[i * 3 + j]!, 6);
      });
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });
    // One image alone gets the same answer as within the batch.
    const one = await appFor(served)(data.images.slice(5 * PX, 6 * PX));
    const single = LabelResponseSchema.parse(await one.json());
    expect(single.count).toBe(1);
    expect(single.score[0]).toBeCloseTo(want.score[5]!, 6);
  });

  it('leaks no tensor across answers and refusals', async () => {
    const served = serve(net, { batchSize: 8, maxLabelCount: 4 });
    const post = appFor(served);
    const images = syntheticImages(CLASSES, 4, 5).images;
    await (await post(images)).arrayBuffer();
    const before = tf.memory().numTensors;
    for (const body of [images, images.slice(0, 3 * PX), new Uint8Array(0), new Uint8Array(7)]) {
      await (await post(body)).arrayBuffer();
    }
    await (await post(new Uint8Array(5 * PX))).arrayBuffer();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses another media type (415), an empty or ragged body (400)', async () => {
    const post = appFor(serve(net));
    const one = new Uint8Array(PX);
    let b = await expectJsonError(
      await post(one, { headers: { 'content-type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    );
    expect(b.error.message).toMatch(/application\/octet-stream.*not text\/plain/);
    b = await expectJsonError(await post(new Uint8Array(0)), 400, 'bad_body');
    expect(b.error.message).toMatch(/the body is empty: send 1\.\.1024 images of 28x28x1/);
    b = await expectJsonError(await post(new Uint8Array(PX + 1)), 400, 'bad_body');
    expect(b.error.message).toMatch(/785 bytes, not a whole number of 28x28x1 images \(784 bytes/);
    const ok = await post(one, { headers: { 'content-type': 'Application/Octet-Stream; x=1' } });
    expect(ok.status).toBe(200);
  });

  it('refuses more than maxLabelCount images (413): by Content-Length before reading, by the stream past the bound', async () => {
    const post = appFor(serve(net, { maxLabelCount: 2 }));
    // Declared far too long (past twice the bound): refused before a byte of the body is read.
    const declared = chunkedBody(100, PX);
    const b = await expectJsonError(
      await post(declared.stream, { headers: { 'content-length': String(10 * PX) } }),
      413,
      'payload_too_large',
    );
    expect(b.error.message).toMatch(/more than 2 images of 28x28x1/);
    expect(declared.pulled()).toBeLessThanOrEqual(1);
    // Declared a little too long: drained (at most twice the bound, nothing kept) before the
    // 413, so a client still uploading reads the answer; a lying stream is cut there.
    const near = chunkedBody(100, PX);
    await expectJsonError(
      await post(near.stream, { headers: { 'content-length': String(3 * PX) } }),
      413,
      'payload_too_large',
    );
    // (the stream pulls one chunk ahead of the reader)
    expect(near.pulled()).toBeLessThanOrEqual(6);
    // No Content-Length: cancelled once past the bound and its drain (not read to its end).
    const streamed = chunkedBody(100, PX);
    await expectJsonError(await post(streamed.stream), 413, 'payload_too_large');
    expect(streamed.pulled()).toBeLessThanOrEqual(7);
    // A Content-Length that lies (small) is bounded all the same.
    const lying = chunkedBody(100, PX);
    await expectJsonError(
      await post(lying.stream, { headers: { 'content-length': String(PX) } }),
      413,
      'payload_too_large',
    );
    expect(lying.pulled()).toBeLessThanOrEqual(7);
    // Exactly the bound is answered.
    const two = chunkedBody(2, PX);
    const res = await post(two.stream);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { count: number }).count).toBe(2);
  });

  it('answers 404 no_calibration for a network without calibration.json, saying how to get one', async () => {
    const b = await expectJsonError(
      await appFor(serve(plain))(new Uint8Array(PX)),
      404,
      'no_calibration',
    );
    expect(b.error.message).toMatch(/net-p has no calibration\.json/);
    expect(b.error.message).toContain('npm run calibrate');
    expect(b.error.message).toContain('npm run train -- --validation-fraction 0.1');
  });

  it('answers 405 with Allow: POST on other methods, 401 without the token', async () => {
    const served = serve(net);
    const app = createApp({ network: async () => served, token: () => TOKEN, log: () => {} });
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await app.request('/v1/label', {
        method,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      await expectJsonError(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow')).toBe('POST');
    }
    const post = (headers: Record<string, string>) =>
      app.request('/v1/label', {
        method: 'POST',
        body: new Uint8Array(PX),
        headers: { 'content-type': LABEL_MEDIA_TYPE, ...headers },
      });
    let b = await expectJsonError(await post({}), 401, 'unauthorized');
    expect(b.error.message).toMatch(/needs a bearer token/);
    b = await expectJsonError(await post({ authorization: 'Bearer nope' }), 401, 'unauthorized');
    expect(b.error.message).toMatch(/not valid/);
    expect((await post({ authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('allows POST and Content-Type in CORS preflights when CORS is configured', async () => {
    const served = serve(net);
    const app = createApp({
      network: async () => served,
      token: () => undefined,
      corsOrigins: () => ['https://app.example.org'],
      log: () => {},
    });
    const pre = await app.request('/v1/label', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.org',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Content-Type/i);
    const res = await appFor(served, { cors: ['https://app.example.org'] })(new Uint8Array(PX), {
      headers: { origin: 'https://app.example.org' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
  });

  it('shares the packet queue: 503 + Retry-After when it is full, 499 when abandoned while waiting', async () => {
    const served = serve(net, { maxConcurrentPackets: 1, maxQueuedPackets: 1 });
    const post = appFor(served);
    let release!: () => void;
    const busy = served.scheduler.run(() => new Promise<void>((r) => (release = r)));
    // One waits (its client then goes away), the next is refused.
    const abort = new AbortController();
    const waiting = post(new Uint8Array(PX), { signal: abort.signal });
    for (let i = 0; i < 50 && served.scheduler.stats().queued === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(served.scheduler.stats().queued).toBe(1);
    const full = await post(new Uint8Array(PX));
    const b = await expectJsonError(full, 503, 'overloaded');
    expect(b.error.code).toBe('overloaded');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    abort.abort();
    await expectJsonError(await waiting, 499, 'client_closed_request');
    expect(served.scheduler.stats()).toMatchObject({ queued: 0, aborted: 1, rejected: 1 });
    release();
    await busy;
    expect((await post(new Uint8Array(PX))).status).toBe(200);
  });

  it('refuses a maxLabelCount outside 1..1024 when serving', () => {
    expect(() => serve(net, { maxLabelCount: 2000 })).toThrow(/maxLabelCount is 2000.*1\.\.1024/);
    expect(() => serve(net, { maxLabelCount: 0 })).toThrow(/maxLabelCount/);
  });
});
