import type * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/core/rng';
import { type DatasetPair, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { subsample } from '../../src/data/subsample';
import { initWasmBackend } from '../../src/node/wasm-backend';
import {
  buildDiscriminator,
  criticLoss,
  fooledLoss,
  sameClassPartners,
} from '../../src/train/adversarial';
import { imageBatch, oneHotBatch } from '../../src/train/batches';
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

describe('the class critic', () => {
  it("tells a digit with its own class from the same digit with another's, which the image critic cannot", () => {
    const digits = subsample(selectClasses(mnist.train, [3, 7]), 64, 2);
    const idx = [...Array(64).keys()];
    const images = imageBatch(digits, idx);
    const labels = oneHotBatch(digits, idx, [3, 7]);
    const swapped = tf.tidy(() => tf.sub(1, labels));
    const before = tf.memory().numTensors;
    /** Real: each digit with its class; fake: the very same digits with the other class. */
    const trainedLoss = (classCount: number): number => {
      const critic = buildDiscriminator([28, 28, 1], 4, classCount);
      const judge = (y: tf.Tensor) =>
        critic.apply(classCount > 0 ? [images, y] : images) as tf.Tensor;
      const loss = () =>
        tf.tidy(
          () =>
            tf.add(
              tf.mean(tf.softplus(tf.neg(judge(labels)))),
              tf.mean(tf.softplus(judge(swapped))),
            ) as tf.Scalar,
        );
      const optimizer = tf.train.adam(1e-3, 0.5);
      for (let i = 0; i < 60; i++) {
        tf.dispose(optimizer.minimize(loss, true, trainableVariables(critic))!);
      }
      const out = tf.tidy(() => loss().dataSync()[0]!);
      optimizer.dispose();
      critic.dispose();
      return out;
    };
    // log 4 is the least a critic can score when real and fake are the same images
    expect(trainedLoss(0)).toBeGreaterThanOrEqual(Math.log(4) - 1e-4);
    expect(trainedLoss(2)).toBeLessThan(0.5 * Math.log(4));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([images, labels, swapped]);
  });
});

/** Every weight of a model, as plain numbers (to compare two trainings). */
function weights(m: tfl.LayersModel): number[][] {
  return m.getWeights().map((w) => [...w.dataSync()]);
}

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

describe('sameClassPartners', () => {
  it('pairs each image with another of its class, itself only when alone, every peer in turn', () => {
    const labels = [3, 7, 3, 3, 9, 7, 3];
    const seen = new Map<number, Set<number>>();
    const rng = createRng(11);
    for (let round = 0; round < 200; round++) {
      const partners = sameClassPartners(labels, rng);
      expect(partners).toHaveLength(labels.length);
      partners.forEach((j, i) => {
        expect(labels[j]).toBe(labels[i]);
        if (labels[i] === 9) expect(j).toBe(i);
        else expect(j).not.toBe(i);
        seen.set(i, (seen.get(i) ?? new Set()).add(j));
      });
    }
    // the 3s at 0, 2, 3, 6: each meets all three others
    expect([...seen.get(0)!].sort()).toEqual([2, 3, 6]);
    expect([...seen.get(3)!].sort()).toEqual([0, 2, 6]);
    expect([...seen.get(1)!]).toEqual([5]);
  });
});

describe('trainNetwork with an adversarial stage', () => {
  it('runs the stage after the VAE, records it in the manifest and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const events: TrainEvent[] = [];
    const trained = await trainTiny({ adversarialEpochs: 1, adversarialWeight: 5 }, events);
    expect(trained.manifest.training.adversarial).toEqual({
      epochs: 1,
      weight: 5,
      critic: 'image',
      fakes: 'reconstructions',
    });
    expect(
      events.filter((e) => e.kind === 'epoch-end').map((e) => e.kind === 'epoch-end' && e.stage),
    ).toEqual(['classifier', 'vae', 'vae-adversarial']);
    trained.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with a class critic records it, leaks no tensors, and moves the decoder elsewhere than the image critic', async () => {
    const before = tf.memory().numTensors;
    const byImage = await trainTiny({ maxTrainSamples: 128, adversarialEpochs: 1 }, []);
    const byClass = await trainTiny(
      { maxTrainSamples: 128, adversarialEpochs: 1, adversarialCritic: 'class' },
      [],
    );
    expect(byClass.manifest.training.adversarial).toEqual({
      epochs: 1,
      weight: 10,
      critic: 'class',
      fakes: 'reconstructions',
    });
    expect(weights(byClass.classifier)).toEqual(weights(byImage.classifier));
    expect(weights(byClass.decoder)).not.toEqual(weights(byImage.decoder));
    byClass.dispose();
    byImage.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with interpolations shown to the critic records them, leaks no tensors, and moves the decoder elsewhere', async () => {
    const byReconstruction = await trainTiny({ maxTrainSamples: 128, adversarialEpochs: 1 }, []);
    for (const critic of ['image', 'class'] as const) {
      const before = tf.memory().numTensors;
      const interpolating = await trainTiny(
        {
          maxTrainSamples: 128,
          adversarialEpochs: 1,
          adversarialCritic: critic,
          adversarialFakes: 'interpolations',
        },
        [],
      );
      expect(interpolating.manifest.training.adversarial).toEqual({
        epochs: 1,
        weight: 10,
        critic,
        fakes: 'interpolations',
      });
      expect(weights(interpolating.classifier)).toEqual(weights(byReconstruction.classifier));
      expect(weights(interpolating.decoder)).not.toEqual(weights(byReconstruction.decoder));
      interpolating.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    byReconstruction.dispose();
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
    expect(weights(adversarial.classifier)).toEqual(weights(trained.classifier));
    expect(weights(adversarial.decoder)).not.toEqual(weights(trained.decoder));
    adversarial.dispose();
    trained.dispose();
  });
});
