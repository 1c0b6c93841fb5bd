import {
  type CalibratedMember,
  calibrateMember,
  disposeMember,
  ensemblePredictor,
  fairEnsemblePredictor,
  type Predictor,
} from '../../client';
import { loadClassifiers, networkData, type RepeatContext } from '../networks';
import { type RowBase, type RowRun, score, summarise } from './row-run';

async function scored(
  ctx: RepeatContext,
  base: RowBase,
  predictor: Predictor,
  extra: Record<string, unknown> = {},
): Promise<RowRun> {
  const { test, validation } = await score(ctx, predictor);
  return {
    ...base,
    ...summarise(test, validation),
    seconds: { inference: test.seconds },
    ...(Object.keys(extra).length ? { detail: extra } : {}),
  };
}

/**
 * The paper's ensemble: element-wise max of the members' softmax outputs, uncalibrated.
 * It needs the classifiers only, so no generator is trained for it.
 */
export async function naiveEnsembleRow(ctx: RepeatContext, base: RowBase): Promise<RowRun> {
  const members = await loadClassifiers(ctx);
  try {
    return await scored(ctx, base, ensemblePredictor(members));
  } finally {
    for (const m of members) m.model.dispose();
  }
}

/** Each member calibrated on its own validation slice only (src/client/fair-ensemble.ts). */
export async function fairEnsembleRow(ctx: RepeatContext, base: RowBase): Promise<RowRun> {
  const nets = await loadClassifiers(ctx);
  const slices = networkData(ctx);
  const members: CalibratedMember[] = [];
  try {
    for (const [i, n] of nets.entries()) {
      members.push(calibrateMember(n.model, n.classes, slices[i]!.validation));
    }
    return await scored(ctx, base, fairEnsemblePredictor(members), {
      temperatures: Object.fromEntries(members.map((m, i) => [ctx.ids[i], m.temperature])),
      validationSlice: Object.fromEntries(slices.map((s, i) => [ctx.ids[i], s.validation.count])),
    });
  } finally {
    members.forEach(disposeMember);
    for (const n of nets) n.model.dispose();
  }
}
