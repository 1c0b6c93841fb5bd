import type { CrossLabelScope } from './cross-label';

/** A generator's name, or 'auto' (see `ClientRecipe.generator`). */
export type GeneratorSetting = string | 'auto';
/** Balanced quotas on or off, or 'auto' (see `ClientRecipe.balance`). */
export type BalanceSetting = boolean | 'auto';

import type { FinetuneSchedule } from './finetune';

/**
 * How a client shares and fine-tunes by default: the best recipe measured so far (chosen on
 * validation slices, see docs/RESULTS.md). `npm run finetune`, `runClient` and the
 * experiment's `best` row all start from it.
 */
export interface ClientRecipe {
  /** Samples per class of each network (after the threshold). */
  samplesPerClass: number;
  /** Keep a generated sample when its top soft label is at least this (no cross-labelling). */
  threshold: number;
  /**
   * Generator asked of every endpoint: a name, undefined (each endpoint's default), or 'auto':
   * the first of `generators` the endpoint offers, else its default (generator-choice.ts).
   */
  generator: GeneratorSetting | undefined;
  /** What 'auto' prefers, in order. */
  generators: readonly string[];
  /**
   * Equal per-class quotas on every endpoint; 'auto': where the chosen generator makes
   * samples of a requested class.
   */
  balance: BalanceSetting;
  /** Soft labels p^(1/T), renormalised (1: as the endpoint sent them). */
  labelTemperature: number;
  /** Every epoch on new samples (epochs x samples fetched, each seen once). */
  freshSamples: boolean;
  /**
   * Cross-labelling weight: the fair ensemble's share of each target (0: off). Applied where
   * every network is calibrated (`'auto'` in runClient and npm run finetune).
   */
  crossLabel: number;
  /**
   * The threshold while cross-labelling: the fair ensemble relabels the samples their sender
   * was less sure of, so a lower threshold keeps useful boundary samples.
   */
  crossLabelThreshold: number;
  /** Which samples cross-labelling mixes: all, or only those the ensemble disputes. */
  crossLabelScope: CrossLabelScope;
  schedule: FinetuneSchedule;
}

export const DEFAULT_RECIPE: ClientRecipe = {
  samplesPerClass: 5000,
  threshold: 0.99,
  generator: 'auto',
  generators: ['class-mixture'],
  balance: 'auto',
  labelTemperature: 1,
  freshSamples: false,
  crossLabel: 0.5,
  crossLabelThreshold: 0.9,
  crossLabelScope: 'all',
  schedule: {
    epochs: 3,
    batchSize: 64,
    learningRate: 1e-3,
    finalFraction: 0.05,
    frozenLayers: ['conv1', 'conv2'],
    shiftPixels: 1,
  },
};
