import * as tf from '@tensorflow/tfjs-core';
import { calibrateMember, disposeMember } from '../../client/fair-ensemble';
import { mergeSets, type SoftSet } from '../../client/merge';
import { DEFAULT_RECIPE } from '../../client/recipe';
import { imagesTensor, mahalanobisScores } from '../../core/calibration';
import { deriveSeed } from '../../core/rng';
import { paperFinetune, type Repeat, score } from './repeat';

/** Keep a sample when its owner's Mahalanobis score reaches the V-th quantile of the owner's validation scores. */
export async function typicalityProbe(r: Repeat, value: string, candidates: Promise<SoftSet[]>) {
  const q = Number(value);
  const sets = await candidates;
  const kept = sets.map((set, i) => {
    const net = r.nets[i]!;
    const member = calibrateMember(net.classifier, net.manifest.classes, r.own[i]!.validation);
    const want = DEFAULT_RECIPE.samplesPerClass * net.manifest.classes.length;
    const k = set.classIds.length;
    const px = set.images.length / set.count;
    const cut =
      member.scores[Math.min(member.scores.length - 1, Math.floor(q * member.scores.length))]!;
    const idx: number[] = [];
    for (let s = 0; s < set.count && idx.length < want; s += 500) {
      const n = Math.min(500, set.count - s);
      const scores = tf.tidy(() => {
        const [f] = member.heads.predict(imagesTensor(set, s, n)) as tf.Tensor[];
        return mahalanobisScores(f as tf.Tensor2D, member.means, member.precision);
      });
      const v = scores.dataSync();
      scores.dispose();
      for (let j = 0; j < n && idx.length < want; j++) if (q === 0 || v[j]! >= cut) idx.push(s + j);
    }
    disposeMember(member);
    const images = new Uint8Array(idx.length * px);
    const softLabels = new Float32Array(idx.length * k);
    idx.forEach((j, row) => {
      images.set(set.images.subarray(j * px, (j + 1) * px), row * px);
      softLabels.set(set.softLabels.subarray(j * k, (j + 1) * k), row * k);
    });
    return { ...set, count: idx.length, images, softLabels };
  });
  const merged = mergeSets(kept, { seed: deriveSeed(r.seed, 'merge') });
  return {
    counts: kept.map((s) => s.count),
    ...(await score(r, await paperFinetune(r, merged), merged.classes)),
  };
}
