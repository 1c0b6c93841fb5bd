import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { crossLabel, scorerLabelSource } from '../../client/cross-label';
import { calibrateMember, disposeMember } from '../../client/fair-ensemble';
import { type MergedSet, mergeSets } from '../../client/merge';
import { imagesTensor } from '../../core/calibration';
import { deriveSeed } from '../../core/rng';
import { packets, paperFinetune, type Repeat, score } from './repeat';

/** `model`'s softmax over the set's classes for every sample of `set`. */
export function predictSet(model: tfl.LayersModel, set: MergedSet): Float32Array {
  const u = set.classes.length;
  const out = new Float32Array(set.count * u);
  for (let s = 0; s < set.count; s += 500) {
    const n = Math.min(500, set.count - s);
    const p = tf.tidy(() => model.predict(imagesTensor(set, s, n)) as tf.Tensor);
    out.set(p.dataSync(), s * u);
    p.dispose();
  }
  return out;
}

/**
 * Two rounds on the same samples: round 1 is cross-labelling 0.5 (the relabel probe's); its
 * merged network's answers for the samples are then mixed into their targets at weight V, and
 * the target is fine-tuned again from its own weights (a born-again round: the merged network
 * beats the fair ensemble on real images, so it may be the better second opinion).
 */
export async function selfTrainProbe(r: Repeat, value: string) {
  const v = Number(value);
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const members = r.nets.map((n, i) =>
    calibrateMember(n.classifier, n.manifest.classes, r.own[i]!.validation),
  );
  let set: MergedSet;
  try {
    const sources = members.map((m, i) =>
      scorerLabelSource(r.nets[i]!.manifest.networkId, m, merged.imageShape),
    );
    set = (await crossLabel(merged, sources, { weight: 0.5 })).set;
  } finally {
    for (const m of members) disposeMember(m);
  }
  const first = await paperFinetune(r, set);
  const p = predictSet(first, set);
  const round1 = await score(r, first, set.classes); // disposes `first`
  const targets = set.targets.map((t, i) => (1 - v) * t + v * p[i]!);
  const second = await paperFinetune(r, { ...set, targets });
  return { round1, ...(await score(r, second, set.classes)) };
}
