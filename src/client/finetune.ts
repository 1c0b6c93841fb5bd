import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Manifest } from '../core/manifest';
import { buildClassifier } from '../core/models';
import { createRng, permutation } from '../core/rng';
import {
  blendRows,
  eraseInPlace,
  mirrorInPlace,
  mixupLambda,
  sharpnessInPlace,
  translateInto,
} from './augment';
import { ClientError } from './errors';
import { maskedCrossEntropy, softCrossEntropy } from './losses';
import type { MergedSet } from './merge';
import { createWeightAverage } from './weight-average';

/**
 * The fine-tuning schedule (the paper gives none; this is ours):
 * - start from the target classifier with its softmax head widened to the union of classes:
 *   every layer's weights copied, the known classes' head columns copied, the new columns
 *   freshly (seeded Glorot) initialised with zero bias;
 * - all layers trainable; Adam (beta1 0.9, beta2 0.999), batch 64;
 * - learning rate: cosine decay from `learningRate` (default 1e-3) to learningRate/20 over
 *   all steps;
 * - loss: cross-entropy against the soft targets (the generating network's class
 *   probabilities placed into the union's columns): -sum_k t_k log p_k, batch mean.
 *   This is distillation of each network's output on its own generated data.
 */
export interface FinetuneSchedule {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Final learning rate as a fraction of the first. */
  finalFraction: number;
  /** Random translation of each training image by up to this many pixels (0: none). */
  shiftPixels?: number | undefined;
  /**
   * Mirror each training image left to right with probability 1/2. Only for data whose
   * classes are mirror-symmetric (clothes, objects), never for digits or text.
   */
  mirror?: boolean | undefined;
  /**
   * Sharpness jitter: each training image gets x + a (x - blur(x)) with a drawn uniformly
   * from [-s, s] (clipped at -1: fully blurred), so that how sharp a sample is says nothing
   * about which network made it. Generators differ in sharpness, real images are sharper
   * than all of them. 0 or absent: off.
   */
  sharpness?: number | undefined;
  /** Layers kept frozen (by name, e.g. ['conv1', 'conv2']). */
  frozenLayers?: readonly string[] | undefined;
  /**
   * Mixup: each batch is blended with a shuffled copy of itself, images and soft targets
   * alike, by lambda ~ Beta(alpha, alpha) (one per batch). 0 or absent: off.
   */
  mixup?: number | undefined;
  /**
   * Start from freshly initialised (seeded) weights of the target's architecture instead of
   * the target's trained classifier. Read by `runClient`, which builds the model.
   */
  fromScratch?: boolean | undefined;
  /**
   * Random erasing: with probability `erase` each training image has one rectangle (2-33 %
   * of its area, aspect ratio 1/3-3) filled with uniform noise, so that no small patch
   * decides the class. 0 or absent: off.
   */
  erase?: number | undefined;
  /**
   * Weight averaging: an exponential moving average of the trained weights, updated after
   * every step with decay min(d, (1 + step) / (10 + step)), replaces the last step's weights
   * at the end. 0 or absent: off (the last step's weights are kept).
   */
  averageDecay?: number | undefined;
}

export const DEFAULT_SCHEDULE: FinetuneSchedule = {
  epochs: 5,
  batchSize: 64,
  learningRate: 1e-3,
  finalFraction: 0.05,
};

/** The target's architecture with fresh (seeded) weights and a head over `unionClasses`. */
export function freshClassifier(
  manifest: Pick<Manifest, 'architecture' | 'dataset'>,
  unionClasses: readonly number[],
  seed: number,
): tfl.LayersModel {
  return buildClassifier({
    imageShape: manifest.dataset.imageShape,
    numClasses: unionClasses.length,
    filters: manifest.architecture.classifierFilters,
    denseUnits: manifest.architecture.denseUnits,
    seed,
  }).model;
}

/**
 * A copy of `source` (columns = `sourceClasses`) with its head widened to `unionClasses`.
 * The new model is built from the manifest's architecture; weights are copied by layer name.
 */
export function widenClassifier(
  source: tfl.LayersModel,
  manifest: Pick<Manifest, 'architecture' | 'dataset'>,
  sourceClasses: readonly number[],
  unionClasses: readonly number[],
  seed: number,
): tfl.LayersModel {
  const { model } = buildClassifier({
    imageShape: manifest.dataset.imageShape,
    numClasses: unionClasses.length,
    filters: manifest.architecture.classifierFilters,
    denseUnits: manifest.architecture.denseUnits,
    seed,
  });
  const srcLayers = source.layers.filter((l) => l.getWeights().length > 0);
  const dstLayers = model.layers.filter((l) => l.getWeights().length > 0);
  if (srcLayers.length !== dstLayers.length) {
    throw new ClientError(
      `target classifier has ${srcLayers.length} weighted layers, the architecture in its manifest ${dstLayers.length}`,
    );
  }
  for (let i = 0; i < dstLayers.length - 1; i++) {
    const from = srcLayers[i]!.getWeights();
    const to = dstLayers[i]!;
    const shapesOk = from.every((w, j) => w.shape.join() === to.getWeights()[j]?.shape.join());
    if (!shapesOk) {
      throw new ClientError(
        `layer ${srcLayers[i]!.name} of the target classifier does not match its manifest's architecture`,
      );
    }
    to.setWeights(from);
  }
  const head = dstLayers.at(-1)!;
  const [srcKernel, srcBias] = srcLayers.at(-1)!.getWeights() as [tf.Tensor2D, tf.Tensor1D];
  const [dstKernel] = head.getWeights() as [tf.Tensor2D, tf.Tensor1D];
  const d = srcKernel.shape[0];
  const k = sourceClasses.length;
  const u = unionClasses.length;
  if (srcKernel.shape[1] !== k) {
    throw new ClientError(
      `target head has ${srcKernel.shape[1]} columns, manifest lists ${k} classes`,
    );
  }
  const sk = srcKernel.dataSync();
  const sb = srcBias.dataSync();
  const kernel = Float32Array.from(dstKernel.dataSync());
  const bias = new Float32Array(u);
  sourceClasses.forEach((c, j) => {
    const col = unionClasses.indexOf(c);
    if (col < 0) throw new ClientError(`union of classes lacks the target's class ${c}`);
    for (let r = 0; r < d; r++) kernel[r * u + col] = sk[r * k + j]!;
    bias[col] = sb[j]!;
  });
  // setWeights copies into the layer's variables: the two tensors are ours to free
  const values = [tf.tensor2d(kernel, [d, u]), tf.tensor1d(bias)];
  head.setWeights(values);
  tf.dispose(values);
  return model;
}

export interface EpochInfo {
  epoch: number;
  epochs: number;
  loss: number;
  seconds: number;
  imagesPerSecond: number;
  learningRate: number;
}

/** The schedule's learning rate at `progress` (0..1) through its steps: cosine decay to finalFraction. */
export function cosineLearningRate(
  s: Pick<FinetuneSchedule, 'learningRate' | 'finalFraction'>,
  progress: number,
): number {
  return (
    s.learningRate *
    (s.finalFraction + (1 - s.finalFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)))
  );
}

/** Fine-tune `model` (columns = data.classes) in place on the merged set. */
export async function finetune(
  model: tfl.LayersModel,
  data: MergedSet,
  opts: Partial<FinetuneSchedule> & {
    seed: number;
    onEpoch?: (e: EpochInfo) => void;
    onBatch?: (b: { epoch: number; batch: number; batches: number; loss: number }) => void;
    signal?: AbortSignal;
  },
): Promise<EpochInfo[]> {
  const s = { ...DEFAULT_SCHEDULE, ...opts };
  const [h, w, c] = data.imageShape;
  const px = h * w * c;
  const u = data.classes.length;
  const rng = createRng(opts.seed >>> 0);
  const optimizer = tf.train.adam(s.learningRate);
  const setLr = (lr: number) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  const frozen = new Set(s.frozenLayers ?? []);
  const names = model.layers.map((l) => l.name);
  for (const f of frozen) {
    if (!names.includes(f)) {
      throw new ClientError(
        `cannot freeze layer "${f}": the classifier's layers are ${names.join(', ')}`,
      );
    }
  }
  const vars = model.layers
    .filter((l) => !frozen.has(l.name))
    .flatMap((l) => l.trainableWeights.map((v) => v.read() as tf.Variable));
  const shift = Math.max(0, Math.floor(s.shiftPixels ?? 0));
  const sharpness = s.sharpness ?? 0;
  const scratch = sharpness > 0 ? new Float32Array(2 * px) : undefined;
  const within = data.withinClasses;
  if (within && s.mixup) {
    throw new ClientError(
      'mixup blends samples whose loss is restricted to their own classes with the rest: turn one of them off',
    );
  }
  const columnMask = within
    ? tf.tensor2d(
        data.classes.map((k) => (within.classes.includes(k) ? 1 : 0)),
        [1, u],
      )
    : undefined;
  const erase = s.erase ?? 0;
  const averaging = s.averageDecay ? createWeightAverage(vars, s.averageDecay) : undefined;
  const batches = Math.ceil(data.count / s.batchSize);
  const totalSteps = Math.max(1, s.epochs * batches);
  const history: EpochInfo[] = [];
  let step = 0;
  try {
    for (let epoch = 1; epoch <= s.epochs; epoch++) {
      const t0 = performance.now();
      const order = permutation(data.count, rng);
      let sum = 0;
      let lr = s.learningRate;
      for (let b = 0; b < batches; b++) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        const start = b * s.batchSize;
        const n = Math.min(s.batchSize, data.count - start);
        const x = new Float32Array(n * px);
        const y = new Float32Array(n * u);
        const flagged = new Float32Array(within ? n : 0);
        for (let i = 0; i < n; i++) {
          const j = order[start + i]!;
          if (within) flagged[i] = within.samples[j]!;
          if (shift === 0) {
            for (let p = 0; p < px; p++) x[i * px + p] = data.images[j * px + p]! / 255;
          } else {
            translateInto(
              x,
              i * px,
              data.images,
              j * px,
              h,
              w,
              c,
              rng.int(2 * shift + 1) - shift,
              rng.int(2 * shift + 1) - shift,
            );
          }
          if (s.mirror && rng.int(2) === 1) mirrorInPlace(x, i * px, h, w, c);
          if (scratch) {
            const amount = Math.max(-1, sharpness * (2 * rng.next() - 1));
            sharpnessInPlace(x, i * px, h, w, c, amount, scratch);
          }
          if (erase > 0 && rng.next() < erase) eraseInPlace(x, i * px, h, w, c, rng);
          y.set(data.targets.subarray(j * u, (j + 1) * u), i * u);
        }
        if (s.mixup) {
          const lambda = mixupLambda(rng, s.mixup);
          const perm = permutation(n, rng);
          blendRows(x, n, px, perm, lambda);
          blendRows(y, n, u, perm, lambda);
        }
        const progress = step / totalSteps;
        lr = cosineLearningRate(s, progress);
        setLr(lr);
        const xt = tf.tensor4d(x, [n, h, w, c]);
        const yt = tf.tensor2d(y, [n, u]);
        const rows = columnMask ? tf.tensor2d(flagged, [n, 1]) : undefined;
        const cost = optimizer.minimize(
          () => {
            const probs = model.apply(xt, { training: true }) as tf.Tensor;
            return rows && columnMask
              ? maskedCrossEntropy(yt, probs, rows, columnMask)
              : softCrossEntropy(yt, probs);
          },
          true,
          vars,
        )!;
        const loss = (await cost.data())[0]!;
        tf.dispose([xt, yt, cost, ...(rows ? [rows] : [])]);
        averaging?.update(step);
        sum += loss * n;
        step++;
        opts.onBatch?.({ epoch, batch: b + 1, batches, loss });
      }
      const seconds = (performance.now() - t0) / 1000;
      const info = {
        epoch,
        epochs: s.epochs,
        loss: sum / Math.max(1, data.count),
        seconds,
        imagesPerSecond: data.count / seconds,
        learningRate: lr,
      };
      history.push(info);
      opts.onEpoch?.(info);
    }
    averaging?.apply();
  } finally {
    optimizer.dispose();
    columnMask?.dispose();
    averaging?.dispose();
  }
  return history;
}
