import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  klDivergence,
  perceptualLoss,
  reconstructionLoss,
} from '../../src/train/losses';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const value = (t: tf.Scalar) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('losses', () => {
  it('cross-entropy against soft targets', () => {
    const y = tf.tensor2d([[0.25, 0.75]]);
    const p = tf.tensor2d([[0.5, 0.5]]);
    expect(value(crossEntropy(y, p))).toBeCloseTo(Math.log(2), 5);
    tf.dispose([y, p]);
  });

  it('BCE and MSE sum over pixels and average over the batch', () => {
    const x = tf.tensor4d([1, 0, 1, 0], [2, 1, 2, 1]);
    const xHat = tf.tensor4d([0.5, 0.5, 0.5, 0.5], [2, 1, 2, 1]);
    expect(value(reconstructionLoss('bce', x, xHat))).toBeCloseTo(2 * Math.log(2), 4);
    expect(value(reconstructionLoss('mse', x, xHat))).toBeCloseTo(0.5, 5);
    tf.dispose([x, xHat]);
  });

  it('KL is zero for the prior and positive elsewhere', () => {
    const zero = tf.zeros([3, 4]);
    expect(value(klDivergence(zero, zero))).toBeCloseTo(0, 6);
    const mean = tf.ones([1, 2]);
    // 0.5 * sum(mu^2) with unit variance = 1
    expect(value(klDivergence(mean, tf.zeros([1, 2])))).toBeCloseTo(1, 5);
    tf.dispose([zero, mean]);
  });

  it('perceptual loss sums squared feature differences over layers, mean over batch', () => {
    const a = [tf.ones([2, 2, 2, 1]), tf.zeros([2, 1])];
    const b = [tf.zeros([2, 2, 2, 1]), tf.fill([2, 1], 2)];
    // layer 1: 8 ones -> 8; layer 2: 2 * 4 = 8; total 16 over 2 images = 8
    expect(value(perceptualLoss(a, b))).toBeCloseTo(8, 5);
    tf.dispose([...a, ...b]);
  });
});
