import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DatasetPair, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { subsample } from '../../src/data/subsample';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { buildDiscriminator, criticLoss, fooledLoss } from '../../src/train/adversarial';
import { imageBatch } from '../../src/train/batches';
import { trainableVariables } from '../../src/train/classifier';
import type { TrainEvent } from '../../src/train/progress';
import { type TrainNetworkOptions, trainNetwork } from '../../src/train/train-network';
import { TINY_ARCHITECTURE } from '../fixtures/tiny-network';

let mnist: DatasetPair;
beforeAll(async () => {
  await initWasmBackend();
  mnist = await loadDataset();
});

describe('the critic', () => {
  it('learns to tell real digits from blurred ones, and its losses move the way they should', () => {
    const real = imageBatch(subsample(selectClasses(mnist.train, [3, 7]), 64, 1), [
      ...Array(64).keys(),
    ]);
    // a 3x3 box blur: what a pixel loss settles for
    const blurred = tf.tidy(() =>
      tf.depthwiseConv2d(real, tf.fill([3, 3, 1, 1], 1 / 9), 1, 'same'),
    );
    const critic = buildDiscriminator([28, 28, 1], 3);
    const before = tf.memory().numTensors;
    const optimizer = tf.train.adam(1e-3, 0.5);
    const lossNow = () => tf.tidy(() => criticLoss(critic, real, blurred).dataSync()[0]!);
    const fooledNow = () => tf.tidy(() => fooledLoss(critic, blurred).dataSync()[0]!);
    const [criticStart, fooledStart] = [lossNow(), fooledNow()];
    for (let i = 0; i < 40; i++) {
      tf.dispose(
        optimizer.minimize(
          () => criticLoss(critic, real, blurred),
          true,
          trainableVariables(critic),
        )!,
      );
    }
    // the critic gets better at its job, so fooling it costs the generator more
    expect(lossNow()).toBeLessThan(criticStart * 0.5);
    expect(fooledNow()).toBeGreaterThan(fooledStart);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    critic.dispose();
    tf.dispose([real, blurred]);
  });
});

/** A tiny network of two digits, its training events collected. */
function trainTiny(extra: Partial<TrainNetworkOptions>, events: TrainEvent[]) {
  return trainNetwork({
    networkId: 'net-x',
    classes: [3, 7],
    data: mnist,
    variant: { architecture: 'separate', loss: 'perceptual', reconstruction: 'bce' },
    architecture: TINY_ARCHITECTURE,
    latentSize: 4,
    epochs: 1,
    maxTrainSamples: 256,
    seed: 5,
    onEvent: (e) => events.push(e),
    ...extra,
  });
}

describe('trainNetwork with an adversarial stage', () => {
  it('runs the stage after the VAE, records it in the manifest and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const events: TrainEvent[] = [];
    const trained = await trainTiny({ adversarialEpochs: 1, adversarialWeight: 5 }, events);
    expect(trained.manifest.training.adversarial).toEqual({ epochs: 1, weight: 5 });
    expect(
      events.filter((e) => e.kind === 'epoch-end').map((e) => e.kind === 'epoch-end' && e.stage),
    ).toEqual(['classifier', 'vae', 'vae-adversarial']);
    trained.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without adversarial epochs records nothing and runs no such stage; with them the decoder moves on', async () => {
    const events: TrainEvent[] = [];
    const trained = await trainTiny({ maxTrainSamples: 128 }, events);
    expect(trained.manifest.training.adversarial).toBeUndefined();
    expect(events.some((e) => e.kind === 'stage-start' && e.stage === 'vae-adversarial')).toBe(
      false,
    );
    // the same seed with the stage: the classifier is the same, the decoder has moved on
    const adversarial = await trainTiny({ maxTrainSamples: 128, adversarialEpochs: 1 }, []);
    const weights = (m: typeof trained.decoder) => m.getWeights().map((w) => [...w.dataSync()]);
    expect(weights(adversarial.classifier)).toEqual(weights(trained.classifier));
    expect(weights(adversarial.decoder)).not.toEqual(weights(trained.decoder));
    adversarial.dispose();
    trained.dispose();
  });
});
