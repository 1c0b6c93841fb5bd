import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BudgetExhaustedError, SamplingAbortedError } from '../../core/sampling';
import type { AppEnv } from '../app';
import { cachedResponse, immutableHeaders } from '../cache';
import { apiError } from '../errors';
import type { Limits } from '../limits';
import {
  onInvalid,
  type PacketQuerySchema,
  type PreviewQuerySchema,
  randomSeed,
  resolveParams,
} from '../query';
import type { PacketParams, ServedNetwork } from '../served-network';

type Params = PacketParams & { seedGiven: boolean };

/** A route that answers with generated samples (`/v1/packet`, `/v1/preview.png`). */
export interface GeneratedRoute {
  /** Under /v1; seeded responses are cached under `/v1<path>/<etag>`. */
  path: string;
  query: typeof PacketQuerySchema | typeof PreviewQuerySchema;
  /** The default and the largest `count` for this route. */
  count: (limits: Limits) => { count: number; maxCount: number };
  /** A strong ETag (quoted) naming the exact response for these parameters. */
  etag: (served: ServedNetwork, p: Params) => Promise<string>;
  /** Headers beside etag, cache-control and x-packet-seed, also sent with a 304. */
  headers?: (p: Params) => Record<string, string>;
  /** Generates the body: its errors become API errors (422 budget, 499 aborted). */
  make: (
    served: ServedNetwork,
    p: Params,
    signal: AbortSignal,
  ) => Promise<{ body: Uint8Array; headers: Record<string, string> }>;
}

/**
 * What every generated route does the same way: parameters resolved against the network,
 * 304 on a matching If-None-Match, seeded responses immutable and cached (made once per
 * cache), unseeded ones `no-store` with the seed drawn reported in `x-packet-seed`.
 */
export function generatedRoute(r: GeneratedRoute) {
  return new Hono<AppEnv>().get(r.path, zValidator('query', r.query, onInvalid), async (c) => {
    const served = c.get('network');
    const p = resolveParams(served, c.req.valid('query'), r.count(served.limits), randomSeed);
    const etag = await r.etag(served, p);
    const headers: Record<string, string> = {
      etag,
      ...(p.seedGiven ? immutableHeaders(c.get('tokenRequired')) : { 'cache-control': 'no-store' }),
      'x-packet-seed': String(p.seed),
      ...r.headers?.(p),
    };
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
    const signal = c.req.raw.signal;
    const make = () => r.make(served, p, signal).catch(generationError(signal));
    if (p.seedGiven) {
      const key = `/v1${r.path}/${etag.slice(1, -1)}`;
      return cachedResponse(c, c.get('cache'), key, headers, make);
    }
    const made = await make();
    return c.body(made.body as Uint8Array<ArrayBuffer>, 200, { ...made.headers, ...headers });
  });
}

/** Whether an If-None-Match header matches a strong ETag. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}

/**
 * Errors of a generation as API errors. Budget exhaustion is the request's fault
 * (threshold/classes too demanding): 422. A request aborted by its client (it went away while
 * waiting or generating) gets 499, which nobody reads but the log line.
 */
function generationError(signal: AbortSignal | undefined) {
  return (e: unknown): never => {
    if (e instanceof BudgetExhaustedError) {
      throw apiError(422, 'budget_exhausted', e.message, { detail: { detail: e.detail } });
    }
    if (e instanceof SamplingAbortedError || signal?.aborted) {
      throw apiError(
        499 as ContentfulStatusCode,
        'client_closed_request',
        'the request was aborted by its client',
      );
    }
    throw e;
  };
}
