import type { Dataset } from '../../data/dataset';
import { packets, type Repeat } from './repeat';

/** Mean brightness, inked pixels (> 25 of 255) and mean absolute horizontal step of a set of images. */
export function describeImages(images: Uint8Array, idx: readonly number[], h: number, w: number) {
  const px = h * w;
  let [mean, ink, step] = [0, 0, 0];
  for (const i of idx) {
    for (let p = 0; p < px; p++) {
      const v = images[i * px + p]!;
      mean += v / px;
      if (v > 25) ink++;
      if (p % w < w - 1) step += Math.abs(v - images[i * px + p + 1]!) / px;
    }
  }
  const n = Math.max(1, idx.length);
  return {
    count: idx.length,
    brightness: mean / n,
    inkedPixels: ink / n,
    horizontalStep: step / n,
  };
}

/**
 * How each network's shared samples (its packet at the paper config's settings) differ from
 * real test images of the same class: brightness, ink, and sharpness (the mean absolute
 * difference of horizontal neighbours). Single-channel images only.
 */
export async function imageStatsProbe(r: Repeat, test: Dataset) {
  const [h, w, c] = test.imageShape;
  if (c !== 1) throw new Error('image-stats takes single-channel images');
  const sets = await packets(r);
  const perClass = sets.flatMap((set) => {
    const k = set.classIds.length;
    return set.classIds.map((classId, j) => {
      const generated: number[] = [];
      for (let i = 0; i < set.count; i++) {
        let best = 0;
        for (let q = 1; q < k; q++)
          if (set.softLabels[i * k + q]! > set.softLabels[i * k + best]!) best = q;
        if (best === j) generated.push(i);
      }
      const real: number[] = [];
      for (let i = 0; i < test.count; i++) if (test.labels[i] === classId) real.push(i);
      return {
        network: set.networkId,
        classId,
        generated: describeImages(set.images, generated, h, w),
        real: describeImages(test.images, real, h, w),
      };
    });
  });
  return { perClass };
}
