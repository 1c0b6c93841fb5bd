import type { z } from 'zod';
import { type PacketQuery, PacketQuerySchema, PreviewQuerySchema } from '../core/api';
import { apiError, type Issue, toIssues } from './errors';
import type { PacketParams, ServedNetwork } from './served-network';
import { defaultGenerator } from './served-network';

export { PacketQuerySchema, PreviewQuerySchema };

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
  served: ServedNetwork,
  q: PacketQuery,
  defaults: { count: number; maxCount: number },
  drawSeed: () => number,
): PacketParams & { seedGiven: boolean } {
  const issues: Issue[] = [];
  const { manifest } = served.net;
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
  const generator = q.generator ?? defaultGenerator(served);
  const plugin = served.generators.get(generator);
  const reason = plugin?.unavailableReason(manifest);
  if (!plugin || reason) {
    const offered = served.generators.availableFor(manifest).map((g) => g.name);
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
    threshold: q.threshold ?? served.limits.defaultThreshold,
    classes: q.classes,
    generator,
  };
}

/** A seed for requests that gave none: the one place that is not reproducible, and reported. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
