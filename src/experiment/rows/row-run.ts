import type { Evaluation } from '../../client';

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
