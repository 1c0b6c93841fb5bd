import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset';
import { type DatasetPair, loadDataset } from '../../src/data/idx';
import { selectClasses } from '../../src/data/partition';
import { subsample } from '../../src/data/subsample';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { fitEncoder, reconstructImages } from '../../src/train/encoder-fit';
import { trainNetwork } from '../../src/train/train-network';
import { TINY_ARCHITECTURE } from '../fixtures/tiny-network';

let mnist: DatasetPair;
beforeAll(async () => {
  await initWasmBackend();
  mnist = await loadDataset();
});

/** Mean absolute pixel difference (0..255) between two image sets of one size. */
function pixelError(a: Dataset, b: Dataset): number {
  let s = 0;
  for (let i = 0; i < a.images.length; i++) s += Math.abs(a.images[i]! - b.images[i]!);
  return s / a.images.length;
}

describe('an encoder fitted to a trained decoder', () => {
  it('reconstructs the owner’s images near the original encoder, leaves the decoder alone, leaks nothing', async () => {
    const trained = await trainNetwork({
      networkId: 'net-x',
      classes: [3, 7],
      data: mnist,
      variant: { architecture: 'separate', loss: 'reconstruction', reconstruction: 'bce' },
      architecture: TINY_ARCHITECTURE,
      latentSize: 8,
      epochs: 1,
      vaeEpochs: 15,
      maxTrainSamples: 1024,
      seed: 5,
    });
    const data = subsample(selectClasses(mnist.train, [3, 7]), 512, 2);
    const decoderBefore = trained.decoder.getWeights().map((w) => w.dataSync().slice());
    const tensors = tf.memory().numTensors;
    const opts = { batchSize: 32, learningRate: 2e-3, klWeight: 1, seed: 9 };
    const fresh = await fitEncoder(trained.decoder, trained.manifest, data, { ...opts, epochs: 0 });
    const fitted = await fitEncoder(trained.decoder, trained.manifest, data, {
      ...opts,
      epochs: 4,
    });
    const original = pixelError(reconstructImages(trained.encoder, trained.decoder, data), data);
    const untrained = pixelError(reconstructImages(fresh, trained.decoder, data), data);
    const ours = pixelError(reconstructImages(fitted, trained.decoder, data), data);
    console.log(
      `pixel error: original ${original.toFixed(1)}, fitted ${ours.toFixed(1)}, untrained ${untrained.toFixed(1)}`,
    );
    expect(ours).toBeLessThan(untrained * 0.6);
    expect(ours).toBeLessThan(original * 1.2);
    // labels and shape kept, pixels generated
    const recon = reconstructImages(fitted, trained.decoder, data);
    expect(recon.labels).toEqual(data.labels);
    expect(recon.count).toBe(data.count);
    expect(trained.decoder.getWeights().map((w) => w.dataSync())).toEqual(decoderBefore);
    fresh.dispose();
    fitted.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    trained.dispose();
  });
});
