import type { Variant } from '../core/manifest';
import type { ExperimentConfig, Recipe } from './config';

/** A row of the table: the paper's seven, the fair ensemble, and one per recipe. */
export type RowId = string;

export interface RowSpec {
  id: RowId;
  label: string;
  /** The paper's mean and std (its 10 runs), for the paper's rows. */
  paper?: { mean: number; std: number };
  kind: 'ensemble' | 'fair-ensemble' | 'generative' | 'joint';
  /** Generative rows: the networks' variant. */
  variant?: Variant;
  /** Paper rows: whether packets use the selection threshold (else threshold 0). */
  selection?: boolean;
  /** Recipe rows: how packets are shared and the target fine-tuned. */
  recipe?: Recipe;
}

const v = (architecture: Variant['architecture'], loss: Variant['loss']): Variant => ({
  architecture,
  loss,
  reconstruction: 'bce',
});

/** The default variant of recipe rows and the fair ensemble's members: the paper's best. */
export const SEPARATE_PERCEPTUAL: Variant = v('separate', 'perceptual');

/** The paper's table, row by row, with the paper's numbers: kept as the paper defined them. */
export const ROWS: readonly RowSpec[] = [
  {
    id: 'ensemble',
    label: 'Ensemble of the classifiers (no merging)',
    paper: { mean: 0.936, std: 0.019 },
    kind: 'ensemble',
  },
  {
    id: 'combined-reconstruction',
    label: 'Classifier inside the VAE, reconstruction loss',
    paper: { mean: 0.953, std: 0.012 },
    kind: 'generative',
    variant: v('combined', 'reconstruction'),
  },
  {
    id: 'combined-perceptual',
    label: 'Classifier inside the VAE, perceptual loss',
    paper: { mean: 0.955, std: 0.016 },
    kind: 'generative',
    variant: v('combined', 'perceptual'),
  },
  {
    id: 'combined-both',
    label: 'Classifier inside the VAE, reconstruction + perceptual',
    paper: { mean: 0.939, std: 0.023 },
    kind: 'generative',
    variant: v('combined', 'both'),
  },
  {
    id: 'separate-perceptual',
    label: 'Separate classifier, perceptual loss',
    paper: { mean: 0.965, std: 0.026 },
    kind: 'generative',
    variant: v('separate', 'perceptual'),
  },
  {
    id: 'separate-selection-perceptual',
    label: 'Separate classifier, selection of best samples, perceptual loss',
    paper: { mean: 0.977, std: 0.008 },
    kind: 'generative',
    variant: v('separate', 'perceptual'),
    selection: true,
  },
  {
    id: 'joint',
    label: 'Same classifier trained jointly on all data (upper bound)',
    paper: { mean: 0.991, std: 0.001 },
    kind: 'joint',
  },
];

export const FAIR_ENSEMBLE: RowSpec = {
  id: 'fair-ensemble',
  label: 'Ensemble, each member calibrated on its own validation slice (ours)',
  kind: 'fair-ensemble',
};

/**
 * Every row a config defines: the paper's, then the fair ensemble (when the networks keep a
 * validation slice to calibrate on), then one per recipe.
 */
export function rowsFor(config: ExperimentConfig): RowSpec[] {
  return [
    ...ROWS,
    ...((config.train.validationFraction ?? 0) > 0 ? [FAIR_ENSEMBLE] : []),
    ...(config.recipes ?? []).map(
      (recipe): RowSpec => ({
        id: recipe.id,
        label: recipe.label,
        kind: 'generative',
        variant: recipe.variant ?? SEPARATE_PERCEPTUAL,
        recipe,
      }),
    ),
  ];
}
