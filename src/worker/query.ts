import { z } from 'zod';
import { MAX_SEED } from '../core/rng';
import type { Endpoint, PacketParams } from './endpoint';
import { defaultGenerator } from './endpoint';
import { apiError, type Issue, toIssues } from './errors';
import { DEFAULT_LIMITS } from './limits';

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
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'generator must be a generator name, e.g. vae');

function countIn(max: number) {
  return uint('count').pipe(
    z.number().min(1, 'count must be >= 1').max(max, `count must be <= ${max}`),
  );
}

const common = {
  seed: uint('seed').pipe(z.number().max(MAX_SEED, `seed must be <= ${MAX_SEED} (uint32)`)),
  threshold: fraction,
  classes: classList,
  generator: generatorName,
};

/** `GET /v1/packet` query: every key optional, unknown keys refused, repeated keys refused. */
export const PacketQuerySchema = z
  .object({ ...common, count: countIn(DEFAULT_LIMITS.maxCount) })
  .partial()
  .strict();

/** `GET /v1/preview.png` query. */
export const PreviewQuerySchema = z
  .object({ ...common, count: countIn(DEFAULT_LIMITS.maxPreviewCount) })
  .partial()
  .strict();

export type PacketQuery = z.infer<typeof PacketQuerySchema>;

/** The validator hook: a zod failure becomes the API's 400. */
export function onInvalid(result: { success: boolean; error?: { issues: z.core.$ZodIssue[] } }) {
  if (!result.success) {
    const issues = toIssues(result.error?.issues ?? []);
    throw apiError(400, 'invalid_query', describe(issues), { issues });
  }
}

function describe(issues: Issue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ') || 'invalid query';
}

/** Checks that need the network (its classes, generators, limits) and fills the defaults. */
export function resolveParams(
  ep: Endpoint,
  q: PacketQuery,
  defaults: { count: number; maxCount: number },
  drawSeed: () => number,
): PacketParams & { seedGiven: boolean } {
  const issues: Issue[] = [];
  const { manifest } = ep.net;
  const count = q.count ?? defaults.count;
  if (count > defaults.maxCount) {
    issues.push({
      path: 'count',
      code: 'too_big',
      message: `count must be <= ${defaults.maxCount}`,
    });
  }
  if (q.classes) {
    const unknown = q.classes.filter((c) => !manifest.classes.includes(c));
    if (unknown.length > 0) {
      issues.push({
        path: 'classes',
        code: 'unknown_class',
        message: `network ${manifest.networkId} does not know class ${unknown.join(', ')}; its classes are ${manifest.classes.join(', ')}`,
      });
    }
  }
  const generator = q.generator ?? defaultGenerator(ep);
  const plugin = ep.generators.get(generator);
  const reason = plugin?.unavailableReason(manifest);
  if (!plugin || reason) {
    const offered = ep.generators.availableFor(manifest).map((g) => g.name);
    issues.push({
      path: 'generator',
      code: 'unknown_generator',
      message: plugin
        ? `generator ${generator} is not available for this network: ${reason}`
        : `no generator ${generator}; this network offers ${offered.join(', ')}`,
    });
  }
  if (issues.length > 0) throw apiError(400, 'invalid_query', describe(issues), { issues });
  return {
    count,
    seed: q.seed ?? drawSeed(),
    seedGiven: q.seed !== undefined,
    threshold: q.threshold ?? ep.limits.defaultThreshold,
    classes: q.classes,
    generator,
  };
}

/** A seed for requests that gave none: the one place that is not reproducible, and reported. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
