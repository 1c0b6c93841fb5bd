import * as tf from '@tensorflow/tfjs-core';

/**
 * Nearest neighbour by L2 distance on pixels (bytes scaled to [0, 1]), on tensors, in chunks:
 * ||q - r||² = ||q||² + ||r||² - 2 q·r, one matmul per (query chunk, reference chunk) inside
 * tf.tidy, so memory stays at the references plus one chunk product.
 */
export interface NearestOptions {
  /** Queries per matmul. Default 256. */
  queryChunk?: number;
  /** References per matmul. Default 4096. */
  refChunk?: number;
}

export interface Nearest {
  /** L2 distance to the nearest reference, pixel values in [0, 1] (exact, from the bytes). */
  distance: Float32Array;
  /** Index of that reference. */
  index: Int32Array;
}

/** A reference set held as float tensors (chunked), for repeated nearest-neighbour queries. */
export interface ReferenceSet {
  count: number;
  pixels: number;
  nearest(queries: Uint8Array, opts?: NearestOptions): Promise<Nearest>;
  dispose(): void;
}

function asMatrix(bytes: Uint8Array, rows: number, pixels: number): tf.Tensor2D {
  return tf.tidy(() =>
    tf.div(tf.cast(tf.tensor2d(bytes, [rows, pixels], 'int32'), 'float32'), 255),
  );
}

export function referenceSet(
  refs: Uint8Array,
  pixels: number,
  opts: Pick<NearestOptions, 'refChunk'> = {},
): ReferenceSet {
  const count = refs.length / pixels;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(
      `reference set: ${refs.length} bytes is not a positive multiple of ${pixels}`,
    );
  }
  const step = opts.refChunk ?? 4096;
  const chunks: { start: number; m: tf.Tensor2D; norms: tf.Tensor2D }[] = [];
  for (let start = 0; start < count; start += step) {
    const rows = Math.min(step, count - start);
    const m = asMatrix(refs.subarray(start * pixels, (start + rows) * pixels), rows, pixels);
    const norms = tf.tidy(() => tf.reshape(tf.sum(tf.square(m), 1), [1, rows]) as tf.Tensor2D);
    chunks.push({ start, m, norms });
  }
  return {
    count,
    pixels,
    async nearest(queries, qopts = {}) {
      const n = queries.length / pixels;
      if (!Number.isInteger(n)) throw new RangeError('queries are not whole images');
      const qstep = qopts.queryChunk ?? 256;
      const distance = new Float32Array(n).fill(Number.POSITIVE_INFINITY);
      const index = new Int32Array(n).fill(-1);
      for (let q0 = 0; q0 < n; q0 += qstep) {
        const rows = Math.min(qstep, n - q0);
        const q = asMatrix(queries.subarray(q0 * pixels, (q0 + rows) * pixels), rows, pixels);
        const qn = tf.tidy(() => tf.reshape(tf.sum(tf.square(q), 1), [rows, 1]));
        for (const c of chunks) {
          const [minT, argT] = tf.tidy(() => {
            const d2 = tf.sub(tf.add(qn, c.norms), tf.mul(2, tf.matMul(q, c.m, false, true)));
            return [tf.min(d2, 1), tf.argMin(d2, 1)];
          });
          const [mins, args] = await Promise.all([minT.data(), argT.data()]);
          tf.dispose([minT, argT]);
          for (let i = 0; i < rows; i++) {
            const d = Math.sqrt(Math.max(0, mins[i]!));
            if (d < distance[q0 + i]!) {
              distance[q0 + i] = d;
              index[q0 + i] = c.start + args[i]!;
            }
          }
        }
        tf.dispose([q, qn]);
      }
      // The expansion loses a few bits in float32 (an exact copy comes out near 0.05, not 0):
      // the reported distance is recomputed exactly from the bytes of the chosen reference.
      for (let i = 0; i < n; i++) {
        const a = i * pixels;
        const b = index[i]! * pixels;
        let sum = 0;
        for (let p = 0; p < pixels; p++) {
          const x = queries[a + p]! - refs[b + p]!;
          sum += x * x;
        }
        distance[i] = Math.sqrt(sum) / 255;
      }
      return { distance, index };
    },
    dispose() {
      for (const c of chunks) tf.dispose([c.m, c.norms]);
      chunks.length = 0;
    },
  };
}
