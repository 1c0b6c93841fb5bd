import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientError,
  type ClientEvent,
  type CrossLabelScope,
  type CrossLabelSetting,
  initClientBackend,
  resolveThreshold,
  runClient,
} from '../../src/client';
import { DEFAULT_RECIPE } from '../../src/client/recipe';
import { type LocalEndpoint, startLocalEndpoint } from '../../src/worker-host/local-endpoint';
import {
  syntheticImages,
  writeCalibratedTinyNetwork,
  writeTinyNetwork,
} from '../fixtures/tiny-network';

/** Cross-labelling end to end: the client against real local endpoints (Hono on Node). */
let a: LocalEndpoint;
let b: LocalEndpoint;
let plain: LocalEndpoint;
let dirB: string;
let dirBPlain: string;
const fast = { retries: 1, backoffMs: 5, timeoutMs: 30_000 };
const base = {
  samplesPerNetwork: 90,
  seed: 3,
  chunkSize: 64,
  schedule: { epochs: 1, batchSize: 32 },
};

beforeAll(async () => {
  await initClientBackend('wasm');
  const netA = await writeCalibratedTinyNetwork({
    networkId: 'net-a',
    classes: [1, 3, 5],
    mixtures: true,
  });
  const netB = await writeCalibratedTinyNetwork({ networkId: 'net-b', classes: [0, 2] });
  const netAPlain = await writeTinyNetwork({ networkId: 'net-a', classes: [1, 3, 5] });
  dirBPlain = (await writeTinyNetwork({ networkId: 'net-b', classes: [0, 2] })).dir;
  dirB = netB.dir;
  a = await startLocalEndpoint({ modelDir: netA.dir, runtime: 'node' });
  b = await startLocalEndpoint({ modelDir: netB.dir, runtime: 'node' });
  plain = await startLocalEndpoint({ modelDir: netAPlain.dir, runtime: 'node' });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), plain?.stop()]);
});

/** runClient against `urls` (target: its folder `targetDir`), with the events it emitted. */
async function recorded(
  urls: string[],
  targetDir: string,
  crossLabel: CrossLabelSetting,
  crossLabelScope?: CrossLabelScope,
) {
  const events: ClientEvent[] = [];
  const r = await runClient({
    endpoints: urls.map((url) => ({ url })),
    targetDir,
    crossLabel,
    crossLabelScope,
    onEvent: (e) => events.push(e),
    ...base,
    ...fast,
  });
  return { r, events };
}

describe('cross-labelling over HTTP', () => {
  it('asks every endpoint about every sample and changes the targets, leaking no tensor', async () => {
    const run = async (crossLabel: number) => {
      const { r, events } = await recorded([a.url, b.url], dirB, crossLabel);
      const weights = r.model.getWeights().map((w) => w.dataSync().slice());
      r.model.dispose();
      return { r, events, weights };
    };
    const off = await run(0);
    const before = tf.memory().numTensors;
    const on = await run(0.5);
    expect(tf.memory().numTensors).toBe(before);
    expect(off.r.crossLabelAgreement).toBeUndefined();
    expect(on.r.crossLabelAgreement).toBeGreaterThanOrEqual(0);
    expect(on.r.crossLabelAgreement).toBeLessThanOrEqual(1);
    // every sample went to both endpoints
    const labelled = on.events.filter((e) => e.kind === 'label');
    const last = (url: string) =>
      labelled.filter((e) => e.kind === 'label' && e.source === url).at(-1);
    expect(last(a.url)).toMatchObject({ labelled: 180, total: 180 });
    expect(last(b.url)).toMatchObject({ labelled: 180, total: 180 });
    // same samples, same seeds: only the targets differ, so the trained weights do
    expect(on.r.sources).toEqual(off.r.sources);
    const differs = on.weights.some((w, i) => w.some((v, j) => v !== off.weights[i]![j]));
    expect(differs).toBe(true);
  });

  it('target not served: its own calibration.json answers in-process', async () => {
    const { r, events } = await recorded([a.url], dirB, 0.5);
    expect(events.some((e) => e.kind === 'label' && e.source === 'local:net-b')).toBe(true);
    r.model.dispose();
  });

  it("generator 'auto': class mixtures with balanced quotas where offered, else the default", async () => {
    const run = (balanceClasses: boolean | 'auto', onEvent?: (e: ClientEvent) => void) =>
      runClient({
        endpoints: [{ url: a.url }, { url: b.url }],
        targetDir: dirB,
        generator: 'auto',
        balanceClasses,
        ...(onEvent ? { onEvent } : {}),
        ...base,
        ...fast,
      });
    const r = await run(false);
    expect(r.settings.generators).toEqual({
      'net-a': { generator: 'class-mixture', balance: false },
      'net-b': { generator: 'vae', balance: false },
    });
    r.model.dispose();
    // balance 'auto' asks net-a for per-class quotas of its mixtures; this untrained network's
    // classifier puts nearly every sample in one class, so the endpoint refuses (422): 'auto'
    // then takes the mixtures' own class mix, and says so
    const events: ClientEvent[] = [];
    const auto = await run('auto', (e) => events.push(e));
    expect(events.find((e) => e.kind === 'balance-dropped')).toMatchObject({
      endpoint: a.url,
      message: expect.stringContaining('HTTP 422'),
    });
    expect(auto.settings.generators['net-a']).toEqual({
      generator: 'class-mixture',
      balance: false,
    });
    expect(auto.sources).toEqual(r.sources);
    auto.model.dispose();
    // asked for explicitly, the same quotas stay an error that names the request
    await expect(run(true)).rejects.toThrow(/generator=class-mixture&classes=1%2C3%2C5/);
  });

  it("generator 'auto' for the target's replay made in-process: the same rule and fallback", async () => {
    const mixedB = await writeTinyNetwork({ networkId: 'net-b', classes: [0, 2], mixtures: true });
    const events: ClientEvent[] = [];
    const r = await runClient({
      endpoints: [{ url: a.url }],
      targetDir: mixedB.dir,
      generator: 'auto',
      balanceClasses: 'auto',
      onEvent: (e) => events.push(e),
      ...base,
      ...fast,
    });
    const dropped = events.flatMap((e) => (e.kind === 'balance-dropped' ? [e.endpoint] : []));
    expect(dropped).toEqual([a.url, 'local']);
    expect(r.settings.generators['net-b']).toEqual({ generator: 'class-mixture', balance: false });
    r.model.dispose();
  });

  it("scope 'disputed' reaches the cross-labelling and is reported", async () => {
    const { r, events } = await recorded([a.url, b.url], dirB, 0.5, 'disputed');
    expect(r.settings).toMatchObject({ crossLabel: 0.5, crossLabelScope: 'disputed' });
    expect(events.some((e) => e.kind === 'cross-labelled')).toBe(true);
    r.model.dispose();
  });

  it("the target's own real images leave the client only with consent", async () => {
    const own = syntheticImages([0, 2], 40, 7);
    const ownImages = { ...own, labels: Uint8Array.from(own.labels) };
    const kinds: string[] = [];
    const run = (extra: object) =>
      runClient({
        endpoints: [{ url: a.url }, { url: b.url }],
        targetDir: dirB,
        crossLabel: 0.5,
        ownImages,
        onEvent: (e) => kinds.push(e.kind),
        ...base,
        ...fast,
        ...extra,
      });
    // cross-labelled at the weight, or one of their own: refused before any packet, naming the fixes
    for (const extra of [{}, { crossLabelOwn: 0.2 }, { crossLabelScope: 'disputed' }]) {
      const err = await run(extra).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect((err as Error).message).toMatch(
        /send its 40 real images.*--share-own-images.*--own-images-loss own-classes.*--cross-label-own 0.*--cross-label 0/,
      );
    }
    expect(kinds).not.toContain('download');
    // consent given, or the images kept here: it runs
    for (const [extra, weight] of [
      [{ shareOwnImages: true }, 0.5],
      [{ crossLabelOwn: 0 }, 0],
    ] as const) {
      const r = await run(extra);
      expect(r.sources.map((s) => s.source)).toContain('own:net-b');
      expect(r.settings.crossLabelOwn).toBe(weight);
      // its real images replace its replay
      expect(r.sources.filter((s) => s.networkId === 'net-b')).toHaveLength(1);
      r.model.dispose();
    }
    // keepReplay: the target's replay (here its endpoint's packets) beside its real images
    const both = await run({ shareOwnImages: true, keepReplay: true });
    expect(both.sources.map((s) => s.networkId).sort()).toEqual(['net-a', 'net-b', 'net-b']);
    expect(both.sources.map((s) => s.source)).toContain('own:net-b');
    both.model.dispose();
    // own-classes: no consent needed (they are sent nowhere), and the replay stays beside them
    const within = await run({ ownImagesLoss: 'own-classes' });
    expect(within.settings.crossLabelOwn).toBe(0);
    expect(within.sources.map((s) => s.networkId).sort()).toEqual(['net-a', 'net-b', 'net-b']);
    within.model.dispose();
    // unless told otherwise
    const alone = await run({ ownImagesLoss: 'own-classes', keepReplay: false });
    expect(alone.sources.filter((s) => s.networkId === 'net-b')).toHaveLength(1);
    alone.model.dispose();
  });

  it('a weight with an uncalibrated endpoint or target: refused before any packet, naming the fix', async () => {
    const kinds: string[] = [];
    const err = await runClient({
      endpoints: [{ url: plain.url }, { url: b.url }],
      targetDir: dirB,
      crossLabel: 0.25,
      onEvent: (e) => kinds.push(e.kind),
      ...base,
      ...fast,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as Error).message).toMatch(
      /net-a.*does not answer POST \/v1\/label.*npm run calibrate/,
    );
    expect(kinds).not.toContain('download');
    const err2 = await runClient({
      endpoints: [{ url: a.url }],
      targetDir: dirBPlain,
      crossLabel: 0.25,
      ...base,
      ...fast,
    }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/target net-b's calibration.json/);
  });

  it("'auto' turns it off, saying why, when a network is not calibrated", async () => {
    const { r, events } = await recorded([plain.url, b.url], dirB, 'auto');
    const skipped = events.find((e) => e.kind === 'cross-label-skipped');
    if (DEFAULT_RECIPE.crossLabel > 0) {
      expect(skipped).toMatchObject({ reason: expect.stringMatching(/net-a .* not calibrated/) });
    } else {
      expect(skipped).toBeUndefined();
    }
    expect(r.crossLabelAgreement).toBeUndefined();
    expect(r.settings).toMatchObject({
      threshold: 0,
      crossLabel: 0,
      crossLabelScope: DEFAULT_RECIPE.crossLabelScope,
    });
    r.model.dispose();
  });

  it("'auto' with every network calibrated: the recipe's weight, and its threshold follows", async () => {
    const { r, events } = await recorded([a.url, b.url], dirB, 'auto');
    expect(r.settings).toMatchObject({
      threshold: 0,
      crossLabel: DEFAULT_RECIPE.crossLabel,
      crossLabelScope: DEFAULT_RECIPE.crossLabelScope,
    });
    expect(events.some((e) => e.kind === 'cross-labelled')).toBe(DEFAULT_RECIPE.crossLabel > 0);
    r.model.dispose();
    const weight = (w: number) => ({ weight: w });
    expect(resolveThreshold('auto', weight(0.5))).toBe(DEFAULT_RECIPE.crossLabelThreshold);
    expect(resolveThreshold('auto', weight(0))).toBe(DEFAULT_RECIPE.threshold);
    expect(resolveThreshold(0.7, weight(0.5))).toBe(0.7);
    expect(resolveThreshold(undefined, weight(0.5))).toBe(0);
  });
});
