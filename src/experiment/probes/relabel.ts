import * as tf from '@tensorflow/tfjs-core';
import { calibrateMember, disposeMember, fairEnsemblePredictor } from '../../client/fair-ensemble';
import { mergeSets } from '../../client/merge';
import { imagesTensor } from '../../core/calibration';
import { deriveSeed } from '../../core/rng';
import { packets, paperFinetune, type Repeat, score } from './repeat';

/** Soft targets (1 - V) x the sender's labels + V x the fair ensemble's (each member calibrated on its own validation slice). */
export async function relabelProbe(r: Repeat, value: string) {
  const mix = Number(value);
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const members = r.nets.map((n, i) =>
    calibrateMember(n.classifier, n.manifest.classes, r.own[i]!.validation),
  );
  const fair = fairEnsemblePredictor(members);
  const u = merged.classes.length;
  const targets = new Float32Array(merged.targets.length);
  let agree = 0;
  for (let s = 0; s < merged.count; s += 500) {
    const n = Math.min(500, merged.count - s);
    const out = tf.tidy(() => fair.predict(imagesTensor(merged, s, n)));
    const v = out.dataSync();
    out.dispose();
    for (let i = 0; i < n; i++) {
      const row = (s + i) * u;
      let sum = 0;
      for (let k = 0; k < u; k++) sum += v[i * u + k]!;
      let [a, b] = [0, 0];
      for (let k = 0; k < u; k++) {
        const fe = v[i * u + k]! / Math.max(sum, 1e-9);
        targets[row + k] = (1 - mix) * merged.targets[row + k]! + mix * fe;
        if (merged.targets[row + k]! > merged.targets[row + a]!) a = k;
        if (v[i * u + k]! > v[i * u + b]!) b = k;
      }
      if (a === b) agree++;
    }
  }
  for (const m of members) disposeMember(m);
  const model = await paperFinetune(r, { ...merged, targets });
  return { fairAgreesWithSender: agree / merged.count, ...(await score(r, model, merged.classes)) };
}
