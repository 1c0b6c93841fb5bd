import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { packetPath } from '../../core/api';
import { PACKET_MEDIA_TYPE } from '../../core/packet';
import { BudgetExhaustedError, SamplingAbortedError } from '../../core/sampling';
import type { AppEnv } from '../app';
import { cachedResponse, immutableHeaders } from '../cache';
import { buildPacket, packetEtag } from '../endpoint';
import { apiError } from '../errors';
import { onInvalid, PacketQuerySchema, randomSeed, resolveParams } from '../query';

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
export function generationError(signal: AbortSignal | undefined) {
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

/** `GET /v1/packet`: a safetensors knowledge packet of exactly `count` kept samples. */
export const packetRoutes = new Hono<AppEnv>().get(
  '/packet',
  zValidator('query', PacketQuerySchema, onInvalid),
  async (c) => {
    const ep = c.get('endpoint');
    const p = resolveParams(
      ep,
      c.req.valid('query'),
      { count: ep.limits.defaultCount, maxCount: ep.limits.maxCount },
      randomSeed,
    );
    const etag = await packetEtag(ep, p);
    const headers: Record<string, string> = {
      etag,
      ...(p.seedGiven ? immutableHeaders(c.get('tokenRequired')) : { 'cache-control': 'no-store' }),
      'x-packet-seed': String(p.seed),
      'content-location': packetPath(p),
    };
    if (etagMatches(c.req.header('if-none-match'), etag)) {
      return c.body(null, 304, headers);
    }
    const signal = c.req.raw.signal;
    const make = async () => {
      const { bytes, metadata } = await buildPacket(ep, p, signal).catch(generationError(signal));
      const name = `${metadata.networkId}-${p.generator}-n${p.count}-t${p.threshold}-s${p.seed}.safetensors`;
      return {
        body: bytes,
        headers: {
          'content-type': PACKET_MEDIA_TYPE,
          'content-disposition': `attachment; filename="${name}"`,
          'x-packet-generated': String(metadata.generated),
          'x-packet-kept': String(metadata.kept),
        },
      };
    };
    if (p.seedGiven) {
      return cachedResponse(c, c.get('cache'), `/v1/packet/${etag.slice(1, -1)}`, headers, make);
    }
    const made = await make();
    return c.body(made.body as Uint8Array<ArrayBuffer>, 200, { ...made.headers, ...headers });
  },
);
