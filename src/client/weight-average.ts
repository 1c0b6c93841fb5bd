import * as tf from '@tensorflow/tfjs-core';

/**
 * An exponential moving average of `vars` (Polyak averaging): `update(step)` after each
 * optimiser step, `apply()` writes the averages into the variables, `dispose()` frees them.
 */
export function createWeightAverage(vars: readonly tf.Variable[], decay: number) {
  let shadows: tf.Tensor[] = vars.map((v) => tf.keep(v.clone()));
  return {
    update(step: number) {
      const d = Math.min(decay, (1 + step) / (10 + step));
      const next = tf.tidy(() =>
        vars.map((v, i) => tf.keep(tf.add(tf.mul(shadows[i]!, d), tf.mul(v, 1 - d)))),
      );
      tf.dispose(shadows);
      shadows = next;
    },
    apply() {
      vars.forEach((v, i) => {
        v.assign(shadows[i]!);
      });
    },
    dispose() {
      tf.dispose(shadows);
      shadows = [];
    },
  };
}
