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

/** One of the paper's generative rows, with the paper's mean and std. */
const generative = (
  id: string,
  label: string,
  [mean, std]: [number, number],
  variant: Variant,
  selection?: true,
): RowSpec => ({
  id,
  label,
  paper: { mean, std },
  kind: 'generative',
  variant,
  ...(selection ? { selection } : {}),
});

/** The paper's table, row by row, with the paper's numbers: kept as the paper defined them. */
export const ROWS: readonly RowSpec[] = [
  {
    id: 'ensemble',
    label: 'Ensemble of the classifiers (no merging)',
    paper: { mean: 0.936, std: 0.019 },
    kind: 'ensemble',
  },
  generative(
    'combined-reconstruction',
    'Classifier inside the VAE, reconstruction loss',
    [0.953, 0.012],
    v('combined', 'reconstruction'),
  ),
  generative(
    'combined-perceptual',
    'Classifier inside the VAE, perceptual loss',
    [0.955, 0.016],
    v('combined', 'perceptual'),
  ),
  generative(
    'combined-both',
    'Classifier inside the VAE, reconstruction + perceptual',
    [0.939, 0.023],
    v('combined', 'both'),
  ),
  generative(
    'separate-perceptual',
    'Separate classifier, perceptual loss',
    [0.965, 0.026],
    v('separate', 'perceptual'),
  ),
  generative(
    'separate-selection-perceptual',
    'Separate classifier, selection of best samples, perceptual loss',
    [0.977, 0.008],
    v('separate', 'perceptual'),
    true,
  ),
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
