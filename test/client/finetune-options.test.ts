import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  finetune,
  initClientBackend,
  type MergedSet,
  maskedCrossEntropy,
  widenClassifier,
} from '../../src/client';
import { buildClassifier } from '../../src/core/models';
import { type Dataset, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { A, ARCH, classifierOfA, oneHotSet } from './finetune-fixture';

/** The fine-tuning loop's options on small real-MNIST sets (src/client/finetune.ts). */
let train: Dataset;

beforeAll(async () => {
  await initClientBackend('wasm');
  train = (await loadDataset()).train;
}, 120_000);

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
