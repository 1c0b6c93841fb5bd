import { type Evaluation, ensemblePredictor, evaluate, type Predictor } from '../../client';
import type { LoadedNetwork } from '../../core/model-folder';
import { type RepeatContext, validationUnion } from '../networks';

/** One finished (repeat, row) unit, as cached on disk. */
export interface RowRun {
  row: string;
  repeat: number;
  seed: number;
  partition: number[][];
  target?: string;
  /** On the test set. */
  accuracy: number;
  /** On the union of the networks' validation slices (what recipes are chosen by). */
  validationAccuracy?: number;
  perClass: Evaluation['perClass'];
  confusion: number[][];
  labels: number[];
  seconds: Record<string, number>;
  /** Generative rows: samples per source, accuracy of the target alone, inference timing. */
  detail?: Record<string, unknown>;
}

export type RowBase = Pick<RowRun, 'row' | 'repeat' | 'seed' | 'partition'>;

export function summarise(e: Evaluation, validation?: Evaluation) {
  return {
    accuracy: e.accuracy,
    ...(validation ? { validationAccuracy: validation.accuracy } : {}),
    perClass: e.perClass,
    confusion: e.confusion,
    labels: e.labels,
  };
}

/** A row's predictor on the test set and, where the networks hold validation slices, on their union. */
export async function score(
  ctx: RepeatContext,
  predictor: Predictor,
): Promise<{ test: Evaluation; validation?: Evaluation }> {
  const test = await evaluate(predictor, ctx.test);
  const val = validationUnion(ctx);
  return { test, ...(val ? { validation: await evaluate(predictor, val) } : {}) };
}

/** The paper's ensemble of these networks: element-wise max of their softmax outputs. */
export function paperEnsemble(nets: readonly LoadedNetwork[]): Predictor {
  return ensemblePredictor(nets.map((n) => ({ model: n.classifier, classes: n.manifest.classes })));
}
