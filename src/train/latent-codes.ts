import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/idx';
import { chunks, imageBatch } from './batches';

/** One class's training codes: the encoder's z_mean per image and its posterior variance. */
export interface ClassCodes {
  classId: number;
  /** Row-major [count, latentSize] z_mean values. */
  means: Float32Array;
  /** Row-major [count, latentSize] posterior variances exp(z_log_var). */
  variances: Float32Array;
  count: number;
  latentSize: number;
}

/** Encode every training image of `classes` once, grouped by class (images of other classes are skipped). */
export function encodeByClass(
  encoder: tfl.LayersModel,
  data: Dataset,
  classes: readonly number[],
  batchSize = 256,
): ClassCodes[] {
  const latentSize = (encoder.outputs[0]!.shape[1] as number) ?? 0;
  const col = new Map(classes.map((c, i) => [c, i]));
  const counts = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < data.count; i++) {
    const c = col.get(data.labels[i]!);
    if (c !== undefined) counts[c]!++;
  }
  const codes = classes.map(
    (classId, c): ClassCodes => ({
      classId,
      means: new Float32Array(counts[c]! * latentSize),
      variances: new Float32Array(counts[c]! * latentSize),
      count: 0,
      latentSize,
    }),
  );
  for (const idx of chunks(data.count, batchSize)) {
    const [mean, variance] = tf.tidy(() => {
      const out = encoder.predict(imageBatch(data, idx)) as tf.Tensor[];
      return [out[0]!, tf.exp(out[1]!)];
    });
    const m = mean!.dataSync();
    const v = variance!.dataSync();
    tf.dispose([mean!, variance!]);
    for (let i = 0; i < idx.length; i++) {
      const c = col.get(data.labels[idx[i]!]!);
      if (c === undefined) continue;
      const into = codes[c]!;
      const row = i * latentSize;
      into.means.set(m.subarray(row, row + latentSize), into.count * latentSize);
      into.variances.set(v.subarray(row, row + latentSize), into.count * latentSize);
      into.count++;
    }
  }
  return codes;
}
