import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildClassifier } from '../../../src/core/models';
import { setup } from './helpers';
import { BATCH, batch, expectVaeTrainingLowersLoss, SHAPE } from './training-helpers';

beforeAll(setup);

describe('training on wasm with the fast kernels', () => {
  it('classifier: model.fit (Adam, categorical crossentropy) lowers the loss, no leaks', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const { model } = buildClassifier({ imageShape: SHAPE, numClasses: 4, seed: 1 });
    model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
    const { x, y } = batch();
    await model.fit(x, y, { epochs: 1, batchSize: BATCH, verbose: 0 }); // creates optimizer state
    const before = tf.memory().numTensors;
    const hist = await model.fit(x, y, { epochs: 6, batchSize: BATCH, verbose: 0 });
    expect(tf.memory().numTensors).toBe(before);
    const losses = hist.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);
    tf.dispose([x, y]);
    model.dispose();
  });

  it.each(['transpose', 'resize'] as const)(
    'VAE (%s upsampling): BCE + KL with Adam lowers the loss, no leaks',
    (upsampling) => expectVaeTrainingLowersLoss(upsampling),
  );
});
