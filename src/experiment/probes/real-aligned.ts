import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { translateInto } from '../../client/augment';
import { cosineLearningRate, widenClassifier } from '../../client/finetune';
import { softCrossEntropy } from '../../client/losses';
import { mergeSets } from '../../client/merge';
import { createRng, deriveSeed, permutation } from '../../core/rng';
import { packets, type Repeat, SCHEDULE, score } from './repeat';

/** The target's real images in every batch (32 beside 64 generated), a domain classifier behind a gradient reversal. */
export async function realAlignedProbe(r: Repeat, value: string) {
  const lambdaMax = Number(value);
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const real = r.own[r.nets.indexOf(r.target)]!.train;
  const m = r.target.manifest;
  const [h, w, c] = merged.imageShape;
  const px = h * w * c;
  const u = merged.classes.length;
  const ownCols = new Set(m.classes.map((id) => merged.classes.indexOf(id)));
  const model = widenClassifier(
    r.target.classifier,
    m,
    m.classes,
    merged.classes,
    deriveSeed(r.seed, 'head'),
  );
  const features = tfl.model({
    inputs: model.inputs,
    outputs: model.getLayer('dense').output as tfl.SymbolicTensor,
  });
  const head = model.getLayer('probs');
  const disc = tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 64,
        activation: 'relu',
        inputShape: [head.getWeights()[0]!.shape[0]!],
      }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  const vars = model.layers
    .filter((l) => !SCHEDULE.frozenLayers.includes(l.name))
    .flatMap((l) => l.trainableWeights.map((v) => v.read() as tf.Variable));
  const discVars = disc.trainableWeights.map((v) => v.read() as tf.Variable);
  const optimizer = tf.train.adam(SCHEDULE.learningRate);
  const rng = createRng(deriveSeed(r.seed, 'finetune'));
  const bs = SCHEDULE.batchSize;
  const realBatch = bs / 2;
  const batches = Math.ceil(merged.count / bs);
  const total = SCHEDULE.epochs * batches;
  let lambda = 0;
  const reverse = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, -lambda),
  }));
  let realOrder = permutation(real.count, rng);
  let rp = 0;
  let ord: Int32Array = permutation(0, rng);
  const shift = () => rng.int(3) - 1;
  for (let step = 0; step < total; step++) {
    const b = step % batches;
    if (b === 0) ord = permutation(merged.count, rng);
    const n = Math.min(bs, merged.count - b * bs);
    const x = new Float32Array((n + realBatch) * px);
    const y = new Float32Array((n + realBatch) * u);
    const domain = new Float32Array(n + realBatch);
    const mask = new Float32Array(n + realBatch);
    for (let i = 0; i < n; i++) {
      const j = ord[b * bs + i]!;
      translateInto(x, i * px, merged.images, j * px, h, w, c, shift(), shift());
      let best = 0;
      for (let k = 0; k < u; k++) {
        y[i * u + k] = merged.targets[j * u + k]!;
        if (y[i * u + k]! > y[i * u + best]!) best = k;
      }
      if (ownCols.has(best)) mask[i] = 1; // generated images of the target's own classes
    }
    for (let i = n; i < n + realBatch; i++) {
      if (rp >= real.count) [realOrder, rp] = [permutation(real.count, rng), 0];
      const j = realOrder[rp++]!;
      translateInto(x, i * px, real.images, j * px, h, w, c, shift(), shift());
      y[i * u + merged.classes.indexOf(real.labels[j]!)] = 1;
      domain[i] = 1;
      mask[i] = 1;
    }
    const p = step / total;
    lambda = lambdaMax * (2 / (1 + Math.exp(-10 * p)) - 1);
    (optimizer as unknown as { learningRate: number }).learningRate = cosineLearningRate(
      SCHEDULE,
      p,
    );
    const [xt, yt, dt, mt] = [
      tf.tensor4d(x, [n + realBatch, h, w, c]),
      tf.tensor2d(y, [n + realBatch, u]),
      tf.tensor2d(domain, [n + realBatch, 1]),
      tf.tensor2d(mask, [n + realBatch, 1]),
    ];
    const cost = optimizer.minimize(
      () => {
        const f = features.apply(xt, { training: true }) as tf.Tensor;
        const ce = softCrossEntropy(yt, head.apply(f) as tf.Tensor);
        if (lambdaMax <= 0) return ce;
        const logits = disc.apply(reverse(f) as tf.Tensor) as tf.Tensor;
        const bce = tf.losses.sigmoidCrossEntropy(dt, logits, undefined, 0, tf.Reduction.NONE);
        return tf.add(ce, tf.div(tf.sum(tf.mul(bce, mt)), tf.maximum(tf.sum(mt), 1))) as tf.Scalar;
      },
      true,
      lambdaMax > 0 ? [...vars, ...discVars] : vars,
    )!;
    tf.dispose([xt, yt, dt, mt, cost]);
  }
  optimizer.dispose();
  disc.dispose();
  return score(r, model, merged.classes);
}
