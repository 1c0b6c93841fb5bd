import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWeightAverage, finetune, initClientBackend } from '../../src/client';
import { type Dataset, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { A, classifierOfA, oneHotSet } from './finetune-fixture';

/** Weight averaging at the end of fine-tuning (src/client/weight-average.ts). */
beforeAll(async () => {
  await initClientBackend('wasm');
}, 120_000);

describe('createWeightAverage', () => {
  it('keeps an exponential moving average with the warm-up decay and writes it back', () => {
    const v = tf.variable(tf.tensor1d([0, 10]));
    const tensors = tf.memory().numTensors;
    const average = createWeightAverage([v], 0.5);
    let expected = [0, 10];
    for (let step = 0; step < 4; step++) {
      const next = tf.tensor1d([step + 1, 10 - step - 1]);
      v.assign(next);
      next.dispose();
      const d = Math.min(0.5, (1 + step) / (10 + step));
      expected = expected.map((e, i) => d * e + (1 - d) * [step + 1, 10 - step - 1][i]!);
      average.update(step);
    }
    average.apply();
    const got = Array.from(v.dataSync());
    expect(got[0]).toBeCloseTo(expected[0]!, 5);
    expect(got[1]).toBeCloseTo(expected[1]!, 5);
    expect(got[0]).not.toBeCloseTo(4, 2); // not the last value
    average.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    v.dispose();
  });
});

describe('finetune with averaging and erasing', () => {
  let train: Dataset;
  beforeAll(async () => {
    train = (await loadDataset()).train;
  }, 120_000);

  it('learns, leaks no tensor, and ends on weights other than the last step', async () => {
    const set = oneHotSet(selectClasses(train, A), A, 256);
    const run = async (opts: { averageDecay?: number; erase?: number }) => {
      const { model } = classifierOfA(5);
      const tensors = tf.memory().numTensors;
      const history = await finetune(model, set, { seed: 3, epochs: 2, batchSize: 32, ...opts });
      expect(tf.memory().numTensors).toBe(tensors);
      const kernel = model.getLayer('conv3').getWeights()[0]!.dataSync().slice();
      model.dispose();
      return { history, kernel };
    };
    const plain = await run({});
    const averaged = await run({ averageDecay: 0.9 });
    const erased = await run({ erase: 0.5 });
    // same seed, same batches: averaging changes only the weights kept at the end
    expect(averaged.history.map((e) => e.loss)).toEqual(plain.history.map((e) => e.loss));
    expect(averaged.kernel).not.toEqual(plain.kernel);
    expect(erased.history.at(-1)!.loss).not.toBe(plain.history.at(-1)!.loss);
    expect(erased.history.at(-1)!.loss).toBeLessThan(erased.history[0]!.loss * 1.5);
  });
});
