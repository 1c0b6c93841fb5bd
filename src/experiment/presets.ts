import { DEFAULT_RECIPE } from '../client/recipe';
import { DEFAULT_ARCHITECTURE } from '../core/models';
import type { ExperimentConfig, Recipe } from './config';

/** The client's default recipe as a row of the table. */
export const BEST_RECIPE: Recipe = {
  id: 'best',
  label: 'Best recipe (the client default; ours)',
  samplesPerClass: DEFAULT_RECIPE.samplesPerClass,
  // the client's 'auto': cross-labelling with its threshold (FAST keeps validation slices, so
  // its networks are calibrated)
  threshold:
    DEFAULT_RECIPE.crossLabel > 0 ? DEFAULT_RECIPE.crossLabelThreshold : DEFAULT_RECIPE.threshold,
  ...(DEFAULT_RECIPE.generator === undefined ? {} : { generator: DEFAULT_RECIPE.generator }),
  balance: DEFAULT_RECIPE.balance,
  labelTemperature: DEFAULT_RECIPE.labelTemperature,
  freshSamples: DEFAULT_RECIPE.freshSamples,
  ...(DEFAULT_RECIPE.crossLabel > 0 ? { crossLabel: DEFAULT_RECIPE.crossLabel } : {}),
  ...(DEFAULT_RECIPE.crossLabel > 0 && DEFAULT_RECIPE.crossLabelScope !== 'all'
    ? { crossLabelScope: DEFAULT_RECIPE.crossLabelScope }
    : {}),
  finetune: { ...DEFAULT_RECIPE.schedule },
};

/** The paper's protocol: 20 epochs, all of each network's data, 5000 per class, 50k merged. */
export const PAPER: ExperimentConfig = {
  name: 'paper',
  networks: 2,
  train: {
    // The paper gives no filter counts: the project's defaults (about half the reference
    // layout's filters; docs/ARCHITECTURE.md), which train ~2x faster.
    architecture: DEFAULT_ARCHITECTURE,
    latentSize: 32,
    epochs: 20,
    vaeEpochs: 20,
    batchSize: 64,
    learningRate: 1e-3,
  },
  share: {
    samplesPerClass: 5000,
    // The paper's example is 0.9; 0.99 did better on repeat 1's networks (docs/RESULTS.md).
    selectionThreshold: 0.99,
    chunkSize: 1000,
    concurrency: 2,
    balance: false,
  },
  // The paper gives no fine-tuning schedule. Longer fine-tuning fits the generated images'
  // artefacts (15 epochs did worse than 5, and 5 worse than 3, on repeat 1's networks); the
  // target keeps the first two conv layers it learned on real images, and a 1-pixel random
  // shift keeps it from fitting exact generated strokes. docs/RESULTS.md has the comparison.
  // That schedule is the client's default recipe (src/client/recipe.ts), defined there once.
  finetune: { ...DEFAULT_RECIPE.schedule },
};

/** Minutes on 2 cores: small nets, 3000 training images per network, 200 samples per class. */
export const QUICK: ExperimentConfig = {
  name: 'quick',
  networks: 2,
  train: {
    architecture: {
      classifierFilters: [8, 8, 16, 16],
      encoderFilters: [8, 16, 16, 16],
      decoderFilters: [16, 8, 8, 8],
      denseUnits: 32,
      upsampling: 'transpose',
    },
    latentSize: 16,
    epochs: 2,
    vaeEpochs: 6,
    batchSize: 64,
    learningRate: 2e-3,
    maxTrainSamples: 3000,
  },
  share: {
    samplesPerClass: 200,
    selectionThreshold: 0.9,
    chunkSize: 500,
    concurrency: 2,
    balance: false,
  },
  finetune: { epochs: 3, batchSize: 64, learningRate: 2e-3, finalFraction: 0.05 },
  testLimit: 2000,
};

/**
 * Time to accuracy: the project's architecture with few epochs, each network keeping a 10%
 * validation slice of its own data (early stopping of the classifier, calibration of the
 * fair ensemble); the best recipe as a row. `--config fast --rows best,joint,fair-ensemble`
 * is the 15-minute run.
 */
export const FAST: ExperimentConfig = {
  name: 'fast',
  networks: 2,
  train: {
    architecture: DEFAULT_ARCHITECTURE,
    latentSize: 32,
    epochs: 4,
    vaeEpochs: 3,
    batchSize: 64,
    learningRate: 1e-3,
    validationFraction: 0.1,
    patience: 1,
  },
  share: { ...PAPER.share, samplesPerClass: 2000 },
  finetune: PAPER.finetune,
  recipes: [BEST_RECIPE],
};

export const CONFIGS = { quick: QUICK, fast: FAST, paper: PAPER } as const;
export type ConfigName = keyof typeof CONFIGS;
