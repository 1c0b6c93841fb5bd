import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Rows per chunk when the sampler runs a model over a batch. `predict` cuts a batch into
 * chunks of 32 by default; chunks of 64 cost ~6% less CPU per candidate on net-a (fewer,
 * larger convolutions; measured in Node on the wasm kernels, docs/BENCHMARKS.md), and 128
 * barely less again while the wasm heap grows from ~19 MiB (32) to ~62 MiB (128): too close
 * to a Worker's 128 MB (64: ~29 MiB). Every row is computed by the same kernels whatever the chunk, so the
 * outputs are the same bytes (test/core/forward.test.ts).
 */
export const INFERENCE_CHUNK = 64;

/** `model.predict(x)` in chunks of INFERENCE_CHUNK rows. */
export function forward(model: tfl.LayersModel, x: tf.Tensor): tf.Tensor {
  return model.predict(x, { batchSize: INFERENCE_CHUNK }) as tf.Tensor;
}
