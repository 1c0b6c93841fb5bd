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
  type MergedSet,
  maskedCrossEntropy,
  runClient,
  widenClassifier,
} from '../../src/client';
import { modelDigest } from '../../src/core/manifest';
import { loadNetwork } from '../../src/core/model-folder';
import { buildClassifier, buildDecoder } from '../../src/core/models';
import { createRng } from '../../src/core/rng';
import { type Dataset, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { folderReader } from '../../src/node/fs-atomic';
import { exportNetwork } from '../../src/node/model-export';
import { type FakeEndpoint, startFakeEndpoint } from './fake-endpoint';

/**
 * A tiny fine-tuning run on real MNIST. The target knows classes 0-2 (a small classifier
 * trained here for a few seconds); a second "network" knows 3-5 and shares packets of
 * real training images with confident soft labels (a stand-in for a perfect generator, so
 * the test measures the client, not a VAE). Without the packets the target cannot exceed
 * ~50 % on the union of classes; with them it must pass 80 %.
 */
const A = [0, 1, 2];
const B = [3, 4, 5];
const ARCH = {
  classifierFilters: [8, 8, 16, 16],
  encoderFilters: [4, 8, 8, 8],
  decoderFilters: [8, 4, 4, 4],
  denseUnits: 32,
  upsampling: 'transpose' as const,
};

/** A fresh classifier over A's classes with the test's small layer sizes. */
function classifierOfA(seed: number) {
  return buildClassifier({
    imageShape: [28, 28, 1],
    numClasses: A.length,
    filters: ARCH.classifierFilters,
    denseUnits: ARCH.denseUnits,
    seed,
  });
}

let train: Dataset;
let test: Dataset;
let targetDir: string;
let targetDigest: string;
const servers: FakeEndpoint[] = [];

function sampler(ds: Dataset, classes: number[], smooth = 0.05) {
  const px = 28 * 28;
  return (count: number, seed: number) => {
    const rng = createRng(seed);
    const images = new Uint8Array(count * px);
    const softLabels = new Float32Array(count * classes.length);
    for (let i = 0; i < count; i++) {
      const j = rng.int(ds.count);
      images.set(ds.images.subarray(j * px, (j + 1) * px), i * px);
      const col = classes.indexOf(ds.labels[j]!);
      for (let c = 0; c < classes.length; c++)
        softLabels[i * classes.length + c] = c === col ? 1 - smooth : smooth / (classes.length - 1);
    }
    return { images, softLabels };
  };
}

function oneHotSet(ds: Dataset, classes: number[], n: number): MergedSet {
  const px = 28 * 28;
  const count = Math.min(n, ds.count);
  const targets = new Float32Array(count * classes.length);
  for (let i = 0; i < count; i++) targets[i * classes.length + classes.indexOf(ds.labels[i]!)] = 1;
  return {
    classes,
    imageShape: [28, 28, 1],
    count,
    images: ds.images.subarray(0, count * px),
    targets,
    sources: [],
  };
}

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

describe('fine-tuning options', () => {
  it('widening the head keeps the target columns and leaks no tensor', () => {
    const { model } = classifierOfA(6);
    const manifest = { architecture: ARCH, dataset: { imageShape: [28, 28, 1] as [28, 28, 1] } };
    const union = [...A, 99].sort((x, y) => x - y);
    const tensors = tf.memory().numTensors;
    const wide = widenClassifier(model, manifest as never, A, union, 4);
    const bias = (m: typeof model) => m.layers.at(-1)!.getWeights()[1]!.dataSync();
    const srcBias = Array.from(bias(model));
    const wideBias = bias(wide);
    A.forEach((c, j) => {
      expect(wideBias[union.indexOf(c)]).toBe(srcBias[j]);
    });
    wide.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
  });

  it('masked cross-entropy renormalises flagged rows over their columns only', () => {
    const probs = tf.tensor2d([
      [0.5, 0.3, 0.2],
      [0.5, 0.3, 0.2],
    ]);
    const targets = tf.tensor2d([
      [1, 0, 0],
      [1, 0, 0],
    ]);
    const loss = maskedCrossEntropy(
      targets,
      probs,
      tf.tensor2d([[1], [0]]),
      tf.tensor2d([[1, 1, 0]]),
    );
    expect(loss.dataSync()[0]).toBeCloseTo((-Math.log(0.5 / 0.8) - Math.log(0.5)) / 2, 5);
    tf.dispose([probs, targets, loss]);
  });

  it('samples restricted to their own classes learn which one, never that they are no other class', async () => {
    const union = [...A, 9];
    const data = oneHotSet(selectClasses(train, A), union, 512);
    const otherClassProbability = async (restricted: boolean) => {
      const { model } = buildClassifier({
        imageShape: [28, 28, 1],
        numClasses: union.length,
        filters: ARCH.classifierFilters,
        denseUnits: ARCH.denseUnits,
        seed: 4,
      });
      const set: MergedSet = restricted
        ? { ...data, withinClasses: { samples: new Uint8Array(data.count).fill(1), classes: A } }
        : data;
      await finetune(model, set, { seed: 2, epochs: 4, batchSize: 32, learningRate: 3e-3 });
      const x = tf.tensor4d(
        Float32Array.from(data.images, (v) => v / 255),
        [data.count, 28, 28, 1],
      );
      const p = model.predict(x) as tf.Tensor2D;
      const rows = await p.array();
      tf.dispose([x, p]);
      model.dispose();
      const other = rows.reduce((s, r) => s + r[3]!, 0) / rows.length;
      const ownRight = rows.filter((r, i) => {
        const best = r.slice(0, 3).indexOf(Math.max(...r.slice(0, 3)));
        return data.targets[i * union.length + best] === 1;
      }).length;
      return { other, ownAccuracy: ownRight / rows.length };
    };
    const tensors = tf.memory().numTensors;
    const full = await otherClassProbability(false);
    const within = await otherClassProbability(true);
    console.log(
      `class 9 probability: full loss ${full.other.toFixed(3)}, restricted ${within.other.toFixed(3)}`,
    );
    expect(full.other).toBeLessThan(0.1);
    expect(within.other).toBeGreaterThan(0.2); // near its start (1 / 4), where the full loss takes it to 0
    expect(within.ownAccuracy).toBeGreaterThan(0.8);
    expect(full.ownAccuracy).toBeGreaterThan(0.8);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('frozen layers keep their weights; the others learn', async () => {
    const { model } = classifierOfA(5);
    const snapshot = (name: string) => model.getLayer(name).getWeights()[0]!.dataSync().slice();
    const before = { conv1: snapshot('conv1'), conv2: snapshot('conv2'), conv3: snapshot('conv3') };
    const tensors = tf.memory().numTensors;
    await finetune(model, oneHotSet(selectClasses(train, A), A, 128), {
      seed: 2,
      epochs: 1,
      batchSize: 32,
      frozenLayers: ['conv1', 'conv2'],
      shiftPixels: 2,
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(snapshot('conv1')).toEqual(before.conv1);
    expect(snapshot('conv2')).toEqual(before.conv2);
    expect(snapshot('conv3')).not.toEqual(before.conv3);
    await expect(
      finetune(model, oneHotSet(selectClasses(train, A), A, 32), {
        seed: 2,
        epochs: 1,
        frozenLayers: ['conv9'],
      }),
    ).rejects.toThrow(/cannot freeze layer "conv9": the classifier's layers are .*conv1/);
    model.dispose();
  });

  it('sharpness jitter changes what is learned, the same for the same seed, without leaking', async () => {
    const data = oneHotSet(selectClasses(train, A), A, 64);
    const trained = async (sharpness: number) => {
      const { model } = classifierOfA(5);
      const tensors = tf.memory().numTensors;
      await finetune(model, data, { seed: 3, epochs: 1, batchSize: 32, sharpness });
      expect(tf.memory().numTensors).toBe(tensors);
      const w = model.getLayer('conv1').getWeights()[0]!.dataSync().slice();
      model.dispose();
      return Array.from(w);
    };
    const plain = await trained(0);
    const jittered = await trained(1);
    expect(jittered).not.toEqual(plain);
    expect(await trained(1)).toEqual(jittered);
  });
});
