import {
  type CalibratedMember,
  calibrateMember,
  disposeMember,
  ensemblePredictor,
  fairEnsemblePredictor,
  type Predictor,
} from '../../client';
import { networkData, type RepeatContext, withClassifiers } from '../networks';
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
export function naiveEnsembleRow(ctx: RepeatContext, base: RowBase): Promise<RowRun> {
  return withClassifiers(ctx, (members) => scored(ctx, base, ensemblePredictor(members)));
}

/** Each member calibrated on its own validation slice only (src/client/fair-ensemble.ts). */
export function fairEnsembleRow(ctx: RepeatContext, base: RowBase): Promise<RowRun> {
  const slices = networkData(ctx);
  return withClassifiers(ctx, async (nets) => {
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
    }
  });
}
