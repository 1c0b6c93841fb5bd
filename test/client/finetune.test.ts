import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EndpointError,
  ensemblePredictor,
  evaluate,
  finetune,
  initClientBackend,
  runClient,
} from '../../src/client';
import { modelDigest } from '../../src/core/manifest';
import { loadNetwork } from '../../src/core/model-folder';
import { buildDecoder } from '../../src/core/models';
import { type Dataset, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { folderReader } from '../../src/node/fs-atomic';
import { exportNetwork } from '../../src/node/model-export';
import { type FakeEndpoint, startFakeEndpoint } from './fake-endpoint';
import { A, ARCH, B, classifierOfA, oneHotSet, sampler } from './finetune-fixture';

/**
 * A tiny fine-tuning run on real MNIST. The target knows classes 0-2 (a small classifier
 * trained here for a few seconds); a second "network" knows 3-5 and shares packets of
 * real training images with confident soft labels (a stand-in for a perfect generator, so
 * the test measures the client, not a VAE). Without the packets the target cannot exceed
 * ~50 % on the union of classes; with them it must pass 80 %.
 */
let train: Dataset;
let test: Dataset;
let targetDir: string;
let targetDigest: string;
const servers: FakeEndpoint[] = [];

beforeAll(async () => {
  await initClientBackend('wasm');
  const mnist = await loadDataset();
  train = mnist.train;
  const t = selectClasses(mnist.test, [...A, ...B]);
  test = {
    ...t,
    count: 1200,
    images: t.images.subarray(0, 1200 * 784),
    labels: t.labels.subarray(0, 1200),
  };
  // the target: a small classifier that knows A, trained briefly on A's real images
  const { model } = classifierOfA(3);
  await finetune(model, oneHotSet(selectClasses(train, A), A, 1500), {
    seed: 1,
    epochs: 1,
    batchSize: 32,
    learningRate: 2e-3,
  });
  const decoder = buildDecoder({
    imageShape: [28, 28, 1],
    latentSize: 8,
    filters: ARCH.decoderFilters,
    seed: 2,
  });
  targetDir = join(await mkdtemp(join(tmpdir(), 'ks-client-')), 'net-a');
  const manifest = await exportNetwork(
    targetDir,
    {
      formatVersion: 1,
      networkId: 'net-a',
      dataset: { name: 'mnist', imageShape: [28, 28, 1], trainCount: 1500, testCount: 0 },
      classes: A,
      variant: { architecture: 'separate', loss: 'perceptual', reconstruction: 'bce' },
      architecture: ARCH,
      generator: { kind: 'vae-decoder', latentSize: 8, classPriors: [] },
      training: {
        seed: 1,
        epochs: 1,
        vaeEpochs: 0,
        batchSize: 32,
        durationSeconds: 0,
        heldOutAccuracy: 0,
        perClassAccuracy: [],
      },
    },
    model,
    decoder,
  );
  targetDigest = await modelDigest(manifest.files);
  model.dispose();
  decoder.dispose();
  // endpoints: the other network, and the target's own (its replay packets)
  servers.push(
    await startFakeEndpoint({
      networkId: 'net-b',
      classes: B,
      modelDigest: 'b'.repeat(64),
      imageShape: [28, 28, 1],
      sample: sampler(selectClasses(train, B), B),
    }),
    await startFakeEndpoint({
      networkId: 'net-a',
      classes: A,
      modelDigest: targetDigest,
      imageShape: [28, 28, 1],
      sample: sampler(selectClasses(train, A), A),
    }),
  );
}, 300_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

describe('fine-tuning client on real MNIST', () => {
  it('lifts union accuracy above a floor unreachable without the packets, and saves atomically', async () => {
    const out = join(dirname(targetDir), 'merged');
    const events: string[] = [];
    const result = await runClient({
      endpoints: [{ url: servers[0]!.url }, { url: servers[1]!.url }],
      targetDir,
      outDir: out,
      samplesPerNetwork: 1500,
      seed: 11,
      chunkSize: 250,
      concurrency: 2,
      schedule: { epochs: 2, batchSize: 32, learningRate: 2e-3 },
      test,
      onEvent: (e) => events.push(e.kind),
    });
    console.log(
      `target alone ${result.target!.accuracy.toFixed(3)}, merged ${result.merged!.accuracy.toFixed(3)}`,
    );
    expect(result.classes).toEqual([0, 1, 2, 3, 4, 5]);
    expect(result.sources.map((s) => s.count)).toEqual([1500, 1500]);
    // floor: the target alone knows half the classes
    expect(result.target!.accuracy).toBeLessThan(0.55);
    expect(result.merged!.accuracy).toBeGreaterThan(0.8);
    for (const c of result.merged!.perClass) expect(c.accuracy).toBeGreaterThan(0.5);
    expect(result.merged!.confusion).toHaveLength(6);
    expect(events).toContain('download');
    expect(events).toContain('epoch');
    expect(events.at(-1)).toBe('saved');
    // the saved folder loads and predicts like the returned model
    const saved = await loadNetwork(folderReader(out));
    expect(saved.manifest.classes).toEqual([0, 1, 2, 3, 4, 5]);
    expect(saved.manifest.networkId).toBe('net-a-merged');
    const again = await evaluate(
      {
        classes: saved.manifest.classes,
        predict: (x) => saved.classifier.predict(x) as tf.Tensor2D,
      },
      test,
    );
    expect(again.accuracy).toBeCloseTo(result.merged!.accuracy, 6);
    saved.classifier.dispose();
    saved.decoder.dispose();

    // the ensemble baseline on the same test set: target + a "perfect" B member
    const ens = ensemblePredictor([
      { model: result.model, classes: result.classes },
      { model: result.model, classes: result.classes },
    ]);
    expect((await evaluate(ens, test)).accuracy).toBeCloseTo(result.merged!.accuracy, 6);
    result.model.dispose();
  });

  it('fromScratch starts from fresh weights, not from the target classifier', async () => {
    // a learning rate too small to move anything: the merged model is its starting point
    const still = async (fromScratch: boolean) => {
      const r = await runClient({
        endpoints: [{ url: servers[0]!.url }, { url: servers[1]!.url }],
        targetDir,
        samplesPerNetwork: 64,
        seed: 3,
        schedule: { epochs: 1, batchSize: 32, learningRate: 1e-12, fromScratch },
        test,
      });
      r.model.dispose();
      const known = r.merged!.perClass.filter((c) => A.includes(c.classId));
      return known.reduce((s, c) => s + c.accuracy, 0) / known.length;
    };
    const tensors = tf.memory().numTensors;
    // the target's own classes: recognised when fine-tuning starts from the target, not from scratch
    expect(await still(false)).toBeGreaterThan(0.8);
    expect(await still(true)).toBeLessThan(0.5);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('a failing endpoint leaves nothing half-written', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ks-fail-'));
    const out = join(parent, 'merged');
    const down = await startFakeEndpoint({
      networkId: 'net-c',
      classes: [7],
      modelDigest: 'c'.repeat(64),
      imageShape: [28, 28, 1],
    });
    down.faults.push((path) =>
      path === '/v1/packet' ? { kind: 'status', status: 500 } : undefined,
    );
    const err = await runClient({
      endpoints: [{ url: servers[0]!.url }, { url: down.url }],
      targetDir,
      outDir: out,
      samplesPerNetwork: 100,
      seed: 1,
      retries: 1,
      backoffMs: 5,
    }).catch((e: unknown) => e);
    await down.stop();
    expect(err).toBeInstanceOf(EndpointError);
    expect((err as EndpointError).message).toContain(down.url);
    expect(await readdir(parent)).toEqual([]);
  });

  it('refuses an endpoint that serves the target with another digest', async () => {
    const imposter = await startFakeEndpoint({
      networkId: 'net-a',
      classes: A,
      modelDigest: 'd'.repeat(64),
      imageShape: [28, 28, 1],
    });
    const err = await runClient({
      endpoints: [{ url: imposter.url }],
      targetDir,
      samplesPerNetwork: 10,
      seed: 1,
    }).catch((e: unknown) => e);
    await imposter.stop();
    expect((err as EndpointError).code).toBe('digest-mismatch');
  });

  it('ensemble places each member softmax in its own columns and takes the max', () => {
    const member = (probs: number[][]) => ({
      predict: () => tf.tensor2d(probs),
    });
    const ens = ensemblePredictor([
      { model: member([[0.9, 0.1]]) as never, classes: [4, 0] },
      { model: member([[0.3, 0.7]]) as never, classes: [1, 9] },
    ]);
    expect(ens.classes).toEqual([0, 1, 4, 9]);
    const out = ens.predict(tf.zeros([1, 1, 1, 1]) as tf.Tensor4D);
    expect(Array.from(out.dataSync()).map((v) => +v.toFixed(3))).toEqual([0.1, 0.3, 0.9, 0.7]);
    out.dispose();
  });
});
