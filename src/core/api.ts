import { z } from 'zod';
import {
  GENERATOR_NAME_PATTERN,
  ImageShapeSchema,
  NetworkIdSchema,
  Sha256Schema,
  VariantSchema,
} from './manifest';
import { MAX_SEED } from './rng';

/**
 * The edge endpoint's API, shared by the server (src/worker) and the client (src/client):
 * the packet query (its parser and its one builder) and what `GET /v1/network` returns. The
 * OpenAPI document (`GET /v1/openapi.json`) is generated from these schemas.
 */

/** Largest `count` of one packet request, and of one preview. */
export const MAX_PACKET_COUNT = 1024;
export const MAX_PREVIEW_COUNT = 256;

const uint = (what: string) =>
  z
    .string()
    .regex(/^\d{1,10}$/, `${what} must be a non-negative integer (decimal digits)`)
    .transform(Number);

const fraction = z
  .string()
  .regex(/^(?:\d{1,3}(?:\.\d{1,12})?|\.\d{1,12})$/, 'threshold must be a decimal number in 0..1')
  .transform(Number)
  .pipe(z.number().min(0, 'threshold must be >= 0').max(1, 'threshold must be <= 1'));

const classList = z
  .string()
  .regex(/^\d{1,6}(?:,\d{1,6}){0,255}$/, 'classes must be comma-separated class ids, e.g. 1,3')
  .transform((s) => s.split(',').map(Number))
  .refine((a) => new Set(a).size === a.length, 'classes must not repeat a class id');

const generatorName = z
  .string()
  .regex(GENERATOR_NAME_PATTERN, 'generator must be a generator name, e.g. vae');

function countIn(max: number) {
  return uint('count').pipe(
    z.number().min(1, 'count must be >= 1').max(max, `count must be <= ${max}`),
  );
}

const common = {
  seed: uint('seed')
    .pipe(z.number().max(MAX_SEED, `seed must be <= ${MAX_SEED} (uint32)`))
    .describe('uint32 seed; drawn at random (and reported in X-Packet-Seed) when absent'),
  threshold: fraction.describe('keep a sample when its max soft label >= threshold (0..1)'),
  classes: classList.describe('comma-separated class ids with equal quotas; all when absent'),
  generator: generatorName.describe('a generator name from GET /v1/network'),
};

/** `GET /v1/packet` query: every key optional, unknown keys refused. */
export const PacketQuerySchema = z
  .object({
    ...common,
    count: countIn(MAX_PACKET_COUNT).describe('samples in the packet'),
  })
  .partial()
  .strict();

/** `GET /v1/preview.png` query. */
export const PreviewQuerySchema = z
  .object({
    ...common,
    count: countIn(MAX_PREVIEW_COUNT).describe('samples in the grid'),
  })
  .partial()
  .strict();

export type PacketQuery = z.infer<typeof PacketQuerySchema>;

/** What a client asks for; the server fills `generator` before building the canonical query. */
export interface PacketRequest {
  count: number;
  seed: number;
  threshold: number;
  classes?: readonly number[] | undefined;
  generator?: string | undefined;
}

/**
 * The one packet query builder: the canonical query string (fixed key order, classes sorted)
 * that reproduces a packet. The server sends it as Content-Location; the client requests it.
 */
export function packetQueryString(r: PacketRequest): string {
  const q = new URLSearchParams({
    count: String(r.count),
    seed: String(r.seed),
    threshold: String(r.threshold),
  });
  if (r.generator) q.set('generator', r.generator);
  if (r.classes?.length) q.set('classes', [...r.classes].sort((a, b) => a - b).join(','));
  return q.toString();
}

/** `/v1/packet?<canonical query>`. */
export function packetPath(r: PacketRequest): string {
  return `/v1/packet?${packetQueryString(r)}`;
}

export const GeneratorDescriptionSchema = z.object({
  name: z.string(),
  description: z.string(),
  version: z.number().int(),
  targetsClasses: z.boolean(),
});
export type GeneratorDescription = z.infer<typeof GeneratorDescriptionSchema>;

export const EndpointLimitsSchema = z.object({
  maxCount: z.number().int().positive(),
  defaultCount: z.number().int().positive(),
  defaultThreshold: z.number().min(0).max(1),
  maxPreviewCount: z.number().int().positive(),
  defaultPreviewCount: z.number().int().positive(),
  /** Most images one `POST /v1/label` request may send. */
  maxLabelCount: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  maxAttemptsPerSample: z.number().int().positive(),
  maxConcurrentPackets: z.number().int().positive(),
  maxQueuedPackets: z.number().int().nonnegative(),
});

/** `GET /v1/network`: the public part of the manifest, the generators offered, the limits. */
export const NetworkDescriptionSchema = z.object({
  networkId: NetworkIdSchema,
  dataset: z.string(),
  imageShape: ImageShapeSchema,
  classes: z.array(z.number().int().nonnegative()).min(1),
  modelDigest: Sha256Schema,
  packetFormatVersion: z.number().int(),
  generators: z.array(GeneratorDescriptionSchema),
  defaultGenerator: z.string(),
  variant: VariantSchema,
  training: z.object({
    heldOutAccuracy: z.number().min(0).max(1),
    perClassAccuracy: z.array(z.object({ classId: z.number().int(), accuracy: z.number() })),
  }),
  limits: EndpointLimitsSchema,
  /** Whether the network answers `POST /v1/label` (its model folder holds calibration.json). */
  labels: z.boolean(),
});
export type NetworkDescription = z.infer<typeof NetworkDescriptionSchema>;

/**
 * What a client accepts as a network description: the fields it needs from
 * NetworkDescriptionSchema, the rest optional, unknown keys kept; older or other endpoints may
 * name the digest `digest` and put the image shape under `dataset`.
 */
export const NetworkDescriptionReadSchema = NetworkDescriptionSchema.pick({
  networkId: true,
  classes: true,
})
  .extend({
    networkId: z.string().min(1),
    modelDigest: Sha256Schema.optional(),
    digest: Sha256Schema.optional(),
    imageShape: ImageShapeSchema.optional(),
    dataset: z.union([z.string(), z.object({ imageShape: ImageShapeSchema }).loose()]).optional(),
    limits: EndpointLimitsSchema.partial().loose().optional(),
    maxCount: z.number().int().positive().optional(),
    packetFormatVersion: z.number().int().optional(),
    labels: z.boolean().optional(),
    generators: z
      .array(GeneratorDescriptionSchema.pick({ name: true, targetsClasses: true }).loose())
      .max(1000)
      .optional(),
    defaultGenerator: z.string().optional(),
  })
  .loose();

/** The one error shape of every non-2xx answer. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z
      .array(z.object({ path: z.string(), code: z.string(), message: z.string() }))
      .optional(),
  }),
});

/** The packet scheduler's state, as `GET /healthz` reports it. */
export const LoadSchema = z.object({
  running: z.number().int(),
  queued: z.number().int(),
  completed: z.number().int(),
  aborted: z.number().int(),
  rejected: z.number().int(),
  batches: z.number().int(),
});

/** `GET /healthz`. */
export const HealthSchema = z.object({
  status: z.literal('ok'),
  networkId: NetworkIdSchema,
  modelDigest: Sha256Schema,
  load: LoadSchema,
});

/**
 * `POST /v1/label` (cross-labelling): the body is `count` images of the network's image shape,
 * uint8 pixels [count, H, W, C] row-major (count = body bytes / (H x W x C), 1..MAX_LABEL_COUNT),
 * sent as `application/octet-stream`. The endpoint answers what its calibrated network says of
 * each image (src/core/calibration): how much it looks like the network's own data (`score`, a
 * percentile of the network's validation scores) and its temperature-scaled probabilities over
 * its classes. Only networks whose model folder holds `calibration.json` answer; others 404
 * with the code `no_calibration`. The client mixes every network's answers into the fair
 * ensemble's label for samples another network sent (src/client/cross-label.ts).
 */
export const MAX_LABEL_COUNT = 1024;
export const LABEL_MEDIA_TYPE = 'application/octet-stream';

export const LabelResponseSchema = z
  .object({
    networkId: NetworkIdSchema,
    modelDigest: Sha256Schema,
    /** Column k of `probabilities` is classes[k]. */
    classes: z.array(z.number().int().nonnegative()).min(1),
    count: z.number().int().min(1).max(MAX_LABEL_COUNT),
    /** [count]: percentile of each image's score among the network's own validation scores. */
    score: z.array(z.number().min(0).max(1)),
    /** [count][classes.length]: softmax(logits / T). */
    probabilities: z.array(z.array(z.number().min(0).max(1))),
  })
  .superRefine((r, ctx) => {
    if (r.score.length !== r.count || r.probabilities.length !== r.count) {
      ctx.addIssue({
        code: 'custom',
        message: `score and probabilities must have ${r.count} rows`,
      });
    } else if (r.probabilities.some((p) => p.length !== r.classes.length)) {
      ctx.addIssue({
        code: 'custom',
        path: ['probabilities'],
        message: `every row must have ${r.classes.length} probabilities`,
      });
    }
  });
export type LabelResponse = z.infer<typeof LabelResponseSchema>;
