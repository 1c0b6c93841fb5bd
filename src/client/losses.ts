import * as tf from '@tensorflow/tfjs-core';

/** The fine-tuning losses: cross-entropy against soft targets, whole or renormalised over some columns. */

/** Soft-target cross-entropy, batch mean. */
export function softCrossEntropy(targets: tf.Tensor, probs: tf.Tensor): tf.Scalar {
  return tf.tidy(
    () =>
      tf.neg(
        tf.mean(tf.sum(tf.mul(targets, tf.log(tf.clipByValue(probs, 1e-7, 1))), -1)),
      ) as tf.Scalar,
  );
}

/**
 * Soft-target cross-entropy where row i with rows[i] = 1 has its probabilities renormalised
 * over the columns with columns[k] = 1 (the others' probability is taken out), batch mean.
 */
export function maskedCrossEntropy(
  targets: tf.Tensor,
  probs: tf.Tensor,
  rows: tf.Tensor,
  columns: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    // factor 1 everywhere on unflagged rows, the column mask on flagged ones
    const factor = tf.add(tf.sub(1, rows), tf.mul(rows, columns));
    const kept = tf.mul(probs, factor);
    const total = tf.sum(kept, -1, true);
    const logp = tf.sub(
      tf.log(tf.clipByValue(kept, 1e-7, 1)),
      tf.log(tf.clipByValue(total, 1e-7, 1)),
    );
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, logp), -1))) as tf.Scalar;
  });
}
