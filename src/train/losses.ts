import * as tf from '@tensorflow/tfjs-core';
import type { ReconstructionLoss } from '../core/manifest';

const EPS = 1e-7;

/** Cross-entropy of predicted probabilities against (one-hot or soft) targets, mean over the batch. */
export function crossEntropy(targets: tf.Tensor, probs: tf.Tensor): tf.Scalar {
  return tf.tidy(
    () =>
      tf.neg(
        tf.mean(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probs, EPS, 1))), -1)),
      ) as tf.Scalar,
  );
}

/** Per-image reconstruction loss summed over pixels, mean over the batch. */
export function reconstructionLoss(
  kind: ReconstructionLoss,
  x: tf.Tensor4D,
  xHat: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const n = x.shape[0];
    if (kind === 'mse') return tf.div(tf.sum(tf.squaredDifference(x, xHat)), n);
    const p = tf.clipByValue(xHat, EPS, 1 - EPS);
    const ll = tf.add(tf.mul(x, tf.log(p)), tf.mul(tf.sub(1, x), tf.log(tf.sub(1, p))));
    return tf.div(tf.neg(tf.sum(ll)), n);
  });
}

/** KL(q(z|x) || N(0, I)), summed over latents, mean over the batch. */
export function klDivergence(zMean: tf.Tensor, zLogVar: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.div(
      tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, zLogVar), tf.add(tf.square(zMean), tf.exp(zLogVar))))),
      zMean.shape[0]!,
    ),
  );
}

/**
 * Perceptual loss: squared distance between a frozen classifier's activations of the input
 * and of the reconstruction, summed over each layer's features and averaged over the batch.
 */
export function perceptualLoss(featuresOfX: tf.Tensor[], featuresOfXHat: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const n = featuresOfX[0]!.shape[0]!;
    const terms = featuresOfX.map((f, i) => tf.sum(tf.squaredDifference(f, featuresOfXHat[i]!)));
    return tf.div(tf.addN(terms), n);
  });
}
