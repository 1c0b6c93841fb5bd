import { z } from 'zod';

/** Version of the on-disk model folder layout; readers refuse any other. */
export const MODEL_FORMAT_VERSION = 1;

/**
 * What an adversarial stage's critic sees: the image alone, or the image with its class (then
 * a reconstruction must look like a real image of its source's class). src/train/adversarial.ts.
 */
export const CriticKindSchema = z.enum(['image', 'class']);
export type CriticKind = z.infer<typeof CriticKindSchema>;

/**
 * What an adversarial stage's critic is shown as fakes: the batch's reconstructions, or those
 * and decoded interpolations between two codes of one class (points between training codes,
 * where the class mixtures sample). src/train/adversarial.ts.
 */
export const CriticFakesSchema = z.enum(['reconstructions', 'interpolations']);
export type CriticFakes = z.infer<typeof CriticFakesSchema>;

export const NETWORK_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** A generator plug-in's name (`?generator=`, packet metadata, `--generator`). */
export const GENERATOR_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

export const NetworkIdSchema = z
  .string()
  .regex(NETWORK_ID_PATTERN, 'network id: lowercase letters, digits and dashes, max 40 chars');

/** [height, width, channels] */
export const ImageShapeSchema = z.tuple([
  z.number().int().positive(),
  z.number().int().positive(),
  z.number().int().positive(),
]);
export type ImageShape = z.infer<typeof ImageShapeSchema>;

export const ArchitectureSchema = z.enum(['separate', 'combined']);
export type Architecture = z.infer<typeof ArchitectureSchema>;

export const GeneratorLossSchema = z.enum(['reconstruction', 'perceptual', 'both']);
export type GeneratorLoss = z.infer<typeof GeneratorLossSchema>;

export const ReconstructionLossSchema = z.enum(['bce', 'mse']);
export type ReconstructionLoss = z.infer<typeof ReconstructionLossSchema>;

export const VariantSchema = z.object({
  architecture: ArchitectureSchema,
  loss: GeneratorLossSchema,
  reconstruction: ReconstructionLossSchema,
});
export type Variant = z.infer<typeof VariantSchema>;

/** A diagonal Gaussian in latent space, fitted to the training codes of one class. */
export const LatentGaussianSchema = z.object({
  classId: z.number().int().nonnegative(),
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
  count: z.number().int().nonnegative(),
});
export type LatentGaussian = z.infer<typeof LatentGaussianSchema>;

/** One component of a class's latent mixture: a diagonal Gaussian fitted to `count` codes. */
export const MixtureComponentSchema = z.object({
  weight: z.number().positive().max(1),
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
  count: z.number().int().positive(),
});
export type MixtureComponent = z.infer<typeof MixtureComponentSchema>;

/** A diagonal Gaussian mixture in latent space, fitted to the training codes of one class. */
export const LatentMixtureSchema = z.object({
  classId: z.number().int().nonnegative(),
  components: z.array(MixtureComponentSchema).min(1),
});
export type LatentMixture = z.infer<typeof LatentMixtureSchema>;

export const GeneratorInfoSchema = z.object({
  /** What the generator folder holds; 'vae-decoder' maps z -> image in [0, 1]. */
  kind: z.literal('vae-decoder'),
  latentSize: z.number().int().positive(),
  /** Per-class latent priors fitted on the training codes (what `class-prior` samples from). */
  classPriors: z.array(LatentGaussianSchema),
  /** Per-class latent mixtures (what `class-mixture` samples from); absent in older networks. */
  classMixtures: z.array(LatentMixtureSchema).optional(),
});
export type GeneratorInfo = z.infer<typeof GeneratorInfoSchema>;

export const ArchitectureInfoSchema = z.object({
  classifierFilters: z.array(z.number().int().positive()).length(4),
  encoderFilters: z.array(z.number().int().positive()).length(4),
  decoderFilters: z.array(z.number().int().positive()).length(4),
  denseUnits: z.number().int().positive(),
  upsampling: z.enum(['transpose', 'resize']),
});
export type ArchitectureInfo = z.infer<typeof ArchitectureInfoSchema>;

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 as 64 lowercase hex digits');

export const ManifestSchema = z.object({
  formatVersion: z.literal(MODEL_FORMAT_VERSION),
  networkId: NetworkIdSchema,
  dataset: z.object({
    name: z.string().min(1),
    imageShape: ImageShapeSchema,
    trainCount: z.number().int().nonnegative(),
    testCount: z.number().int().nonnegative(),
  }),
  /** Global class ids this network knows, ascending; column k of its classifier is classes[k]. */
  classes: z.array(z.number().int().nonnegative()).min(1),
  variant: VariantSchema,
  architecture: ArchitectureInfoSchema,
  generator: GeneratorInfoSchema,
  training: z.object({
    seed: z.number().int().nonnegative(),
    epochs: z.number().int().nonnegative(),
    vaeEpochs: z.number().int().nonnegative(),
    /** The adversarial stage after the VAE's epochs, where it ran (`npm run train -- --adversarial-epochs`). */
    adversarial: z
      .object({
        epochs: z.number().int().positive(),
        weight: z.number().positive(),
        /** What the critic saw: the image alone, or the image with its class (absent: image). */
        critic: CriticKindSchema.optional(),
        /** What the critic was shown as fakes (absent: reconstructions). */
        fakes: CriticFakesSchema.optional(),
      })
      .optional(),
    batchSize: z.number().int().positive(),
    durationSeconds: z.number().nonnegative(),
    /** Accuracy of the classifier on the held-out (test) images of its own classes. */
    heldOutAccuracy: z.number().min(0).max(1),
    perClassAccuracy: z.array(z.object({ classId: z.number().int(), accuracy: z.number() })),
  }),
  /** sha256 of every file under the model folder except manifest.json, keyed by relative path. */
  files: z.record(z.string(), Sha256Schema),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const CLASSIFIER_DIR = 'classifier';
export const GENERATOR_DIR = 'generator';
export const MANIFEST_FILE = 'manifest.json';

/** One digest for a whole model: sha256 over the sorted `path:sha256` lines. */
export async function modelDigest(files: Record<string, string>): Promise<string> {
  const lines = Object.keys(files)
    .sort()
    .map((k) => `${k}:${files[k]}\n`)
    .join('');
  return sha256Hex(new TextEncoder().encode(lines));
}

/** sha256 as lowercase hex, through WebCrypto (present in Node 20 and workerd). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
