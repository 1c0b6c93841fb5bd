import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  calibrateMember,
  disposeMember,
  ensemblePredictor,
  evaluate,
  fairEnsemblePredictor,
  initClientBackend,
} from '../../src/client';
import { logitsModel } from '../../src/core/calibration';
import { createRng } from '../../src/core/rng';
import type { Dataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { trainClassifier } from '../../src/train/classifier';

/**
 * Four classes of 6x6 images: class c is a bright bar in row c (plus noise). Member A knows
 * classes 0,1, member B classes 2,3: on the other member's images each still gives a softmax
 * over its own classes only.
 */
function bars(n: number, seed: number): Dataset {
  const rng = createRng(seed);
  const px = 36;
  const images = new Uint8Array(n * px);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(4);
    labels[i] = c;
    for (let p = 0; p < px; p++) {
      const onBar = Math.floor(p / 6) === c;
      images[i * px + p] = Math.max(0, Math.min(255, (onBar ? 200 : 30) + 40 * rng.normal()));
    }
  }
  return { name: 'bars', images, labels, count: n, imageShape: [6, 6, 1] };
}

function tinyClassifier(classes: number, seed: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [6, 6, 1] }));
  m.add(
    tfl.layers.dense({
      units: 8,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    }),
  );
  m.add(
    tfl.layers.dense({
      units: classes,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
    }),
  );
  return m;
}

beforeAll(async () => {
  await initClientBackend('wasm');
});

describe('fair ensemble', () => {
  it('logits model: features and logits; softmax of its logits is the classifier output', () => {
    const clf = tinyClassifier(3, 1);
    const heads = logitsModel(clf);
    const x = tf.randomUniform([5, 6, 6, 1], 0, 1, 'float32', 3);
    const a = (clf.predict(x) as tf.Tensor).arraySync() as number[][];
    const [f, l] = heads.predict(x) as tf.Tensor[];
    expect(f!.shape).toEqual([5, 8]);
    const b = tf.softmax(l!).arraySync() as number[][];
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 3; j++) expect(b[i]![j]).toBeCloseTo(a[i]![j]!, 5);
    x.dispose();
    clf.dispose();
  });

  it('calibrated on each member own data only, it beats the naive max', async () => {
    const train = bars(1200, 1);
    const test = bars(800, 2);
    const members = [
      { classes: [0, 1], model: tinyClassifier(2, 10) },
      { classes: [2, 3], model: tinyClassifier(2, 20) },
    ];
    for (const [i, m] of members.entries()) {
      await trainClassifier(m.model, selectClasses(train, m.classes), {
        network: `m${i}`,
        classes: m.classes,
        epochs: 8,
        batchSize: 32,
        learningRate: 0.01,
        seed: i + 1,
      });
    }
    // member A overconfident (its logits x8), as a member trained longer or on less varied
    // data is: its saturated softmax wins the naive max on B's images too
    const head = members[0]!.model.layers.at(-1)!;
    head.setWeights(head.getWeights().map((w) => tf.mul(w, 8)));
    const before = tf.memory().numTensors;
    // each member sees only its own classes' validation images
    const calibrated = members.map((m) =>
      calibrateMember(m.model, m.classes, selectClasses(bars(400, 3), m.classes)),
    );
    for (const c of calibrated) {
      expect(c.temperature).toBeGreaterThan(0);
      expect(c.scores.length).toBeGreaterThan(100);
    }
    const naive = await evaluate(ensemblePredictor(members), test);
    const fair = await evaluate(fairEnsemblePredictor(calibrated), test);
    expect(fair.accuracy).toBeGreaterThan(0.9);
    expect(fair.accuracy).toBeGreaterThan(naive.accuracy + 0.05);
    for (const c of calibrated) disposeMember(c);
    expect(tf.memory().numTensors).toBe(before);
    for (const m of members) m.model.dispose();
  });

  it('refuses an empty validation slice and foreign labels, naming the fix', () => {
    const clf = tinyClassifier(2, 5);
    const empty = { ...bars(10, 4), count: 0 };
    expect(() => calibrateMember(clf, [0, 1], empty)).toThrow(/validation slice/);
    expect(() => calibrateMember(clf, [0, 1], bars(50, 4))).toThrow(/not a class of the network/);
    clf.dispose();
  });
});
