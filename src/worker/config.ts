import { z } from 'zod';
import { MAX_LABEL_COUNT } from '../core/api';
import type { Limits } from './limits';

/**
 * Endpoint settings from the Worker's environment (wrangler.toml `[vars]`, `--var`, or the
 * Node entry's options): every one optional, strings as wrangler passes them.
 */
const count = (max: number) => z.coerce.number().int().min(0).max(max);
export const EndpointVarsSchema = z.object({
  MAX_CONCURRENT_PACKETS: count(64).min(1).optional(),
  MAX_QUEUED_PACKETS: count(10_000).optional(),
  /** Images one `POST /v1/label` may carry (1..1024). */
  MAX_LABEL_COUNT: count(MAX_LABEL_COUNT).min(1).optional(),
  /** Comma-separated origins allowed by CORS, or `*`; unset or empty: no CORS headers. */
  CORS_ORIGINS: z.string().optional(),
  /** Comma-separated generators the endpoint serves; unset or empty: every one it can. */
  SERVED_GENERATORS: z.string().optional(),
});
export type EndpointVars = z.infer<typeof EndpointVarsSchema>;

/** The vars of `env`, or an error naming the bad one (the endpoint then answers 503). */
export function endpointVars(env: unknown): EndpointVars {
  const raw = (env ?? {}) as Record<string, unknown>;
  const pick = Object.fromEntries(
    Object.keys(EndpointVarsSchema.shape)
      .filter((k) => raw[k] !== undefined && raw[k] !== '')
      .map((k) => [k, raw[k]]),
  );
  const parsed = EndpointVarsSchema.safeParse(pick);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`setting ${i.path.join('.')}: ${i.message} (see wrangler.toml [vars])`);
  }
  return parsed.data;
}

/** The limits the vars override. */
export function limitsFromVars(v: EndpointVars): Partial<Limits> {
  return {
    ...(v.MAX_CONCURRENT_PACKETS !== undefined
      ? { maxConcurrentPackets: v.MAX_CONCURRENT_PACKETS }
      : {}),
    ...(v.MAX_QUEUED_PACKETS !== undefined ? { maxQueuedPackets: v.MAX_QUEUED_PACKETS } : {}),
    ...(v.MAX_LABEL_COUNT !== undefined ? { maxLabelCount: v.MAX_LABEL_COUNT } : {}),
  };
}

/** A comma-separated var as a list of its trimmed items; undefined when unset or empty. */
function commaList(value: string | undefined): string[] | undefined {
  const list = (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return list.length > 0 ? list : undefined;
}

/** SERVED_GENERATORS as a list (undefined when unset or empty: every generator). */
export function servedGeneratorsFromVars(v: EndpointVars): string[] | undefined {
  return commaList(v.SERVED_GENERATORS);
}

/** CORS_ORIGINS as a list (none when unset or empty). */
export function corsOriginsFromVars(v: EndpointVars): string[] | undefined {
  return commaList(v.CORS_ORIGINS);
}
