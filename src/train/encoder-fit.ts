import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Manifest } from '../core/manifest';
import { buildEncoder } from '../core/models';
import type { Dataset } from '../data/dataset';
import { imageBatch } from './batches';
import { trainableVariables } from './classifier';
import { runAdamEpochs } from './loop';
import type { OnTrainEvent } from './progress';
import { normalNoise, vaeLoss } from './vae';

export interface FitEncoderOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Weight of the KL term, which keeps the codes where the decoder was trained. */
  klWeight: number;
  seed: number;
  onEvent?: OnTrainEvent | undefined;
}

/**
 * A new encoder for a trained decoder, fitted on `data` with the decoder held fixed (only
 * the encoder's weights move; loss: reconstruction + KL). A network folder ships only its
 * decoder; an owner who holds the training images can recover the encoder this way and pass
 * its own images through its own generator (`reconstructImages`). The caller disposes it.
 */
export async function fitEncoder(
  decoder: tfl.LayersModel,
  manifest: Pick<Manifest, 'networkId' | 'dataset' | 'architecture' | 'variant'>,
  data: Dataset,
  opts: FitEncoderOptions,
): Promise<tfl.LayersModel> {
  const latent = decoder.inputs[0]!.shape[1]!;
  const encoder = buildEncoder({
    imageShape: manifest.dataset.imageShape,
    latentSize: latent,
    filters: manifest.architecture.encoderFilters,
    seed: opts.seed,
  });
  const loss = {
    loss: 'reconstruction' as const,
    reconstruction: manifest.variant.reconstruction,
    perceptualWeight: 0,
    klWeight: opts.klWeight,
  };
  try {
    await runAdamEpochs({
      ...opts,
      network: manifest.networkId,
      stage: 'vae',
      count: data.count,
      variables: trainableVariables(encoder),
      batch: (idx, rng) => {
        const x = imageBatch(data, idx);
        const eps = normalNoise(rng, [idx.length, latent]);
        return { inputs: [x, eps], loss: () => vaeLoss(encoder, decoder, x, eps, loss) };
      },
    });
  } catch (e) {
    encoder.dispose();
    throw e;
  }
  return encoder;
}

/** `data` passed through encoder (its code's mean) and decoder: the same labels, generated pixels. */
export function reconstructImages(
  encoder: tfl.LayersModel,
  decoder: tfl.LayersModel,
  data: Dataset,
  batchSize = 256,
): Dataset {
  const [h, w, c] = data.imageShape;
  const px = h * w * c;
  const images = new Uint8Array(data.count * px);
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = Int32Array.from(
      { length: Math.min(batchSize, data.count - start) },
      (_, i) => start + i,
    );
    const out = tf.tidy(() => {
      const x = imageBatch(data, idx);
      const [zMean] = encoder.predict(x) as tf.Tensor[];
      const xHat = decoder.predict(zMean!) as tf.Tensor;
      return tf.round(tf.mul(tf.clipByValue(xHat, 0, 1), 255));
    });
    const v = out.dataSync();
    out.dispose();
    for (let i = 0; i < v.length; i++) images[start * px + i] = v[i]!;
  }
  return { ...data, images };
}
