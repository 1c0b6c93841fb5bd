import { z } from 'zod';
import {
  type GeneratorDescription,
  NetworkDescriptionReadSchema,
  type PacketRequest,
  packetPath,
} from '../core/api';
import type { ImageShape } from '../core/manifest';
import {
  decodePacket,
  maxPacketBytes,
  PACKET_FORMAT_VERSION,
  type Packet,
  PacketFormatError,
} from '../core/packet';
import { deriveSeed } from '../core/rng';
import { EndpointError } from './errors';
import { type EndpointAddress, getWithRetry, mapPool, type RetryOptions } from './http';
import { parseAnswer } from './parse-answer';

/**
 * A generator an endpoint offers (from `GET /v1/network`); `targetsClasses`: it makes samples
 * of a requested class (balanced quotas cost no rejections).
 */
export type GeneratorOffer = Pick<GeneratorDescription, 'name' | 'targetsClasses'>;

/**
 * What `GET /v1/network` tells us, normalised. The endpoint serves the public part of the
 * manifest; we accept the digest as `modelDigest` or `digest`, and the image shape at the top
 * level or under `dataset`.
 */
export interface NetworkInfo {
  endpoint: string;
  networkId: string;
  classes: number[];
  imageShape: ImageShape;
  modelDigest: string;
  /** Largest `count` one packet request may ask for, when the endpoint says. */
  maxCount?: number | undefined;
  /** Packet format version the endpoint serves, when it says. */
  packetFormatVersion?: number | undefined;
  /** Whether it answers `POST /v1/label` (its network is calibrated). */
  labels?: boolean | undefined;
  /** Largest number of images one label request may carry, when the endpoint says. */
  maxLabelCount?: number | undefined;
  /** The generators it offers and which one it uses when asked for none, when it says. */
  generators?: GeneratorOffer[] | undefined;
  defaultGenerator?: string | undefined;
  raw: unknown;
}

/** Largest `GET /v1/network` body read (a real one is a few KiB). */
export const NETWORK_INFO_LIMIT = 1 << 20;
/** Most classes a network may claim, so a claim cannot inflate the packet bound. */
export const MAX_NETWORK_CLASSES = 10_000;
/** Largest packet ever read, whatever image shape and class count an endpoint claims. */
export const MAX_PACKET_BYTES = 256 * 1024 * 1024;

const NetworkInfoSchema = NetworkDescriptionReadSchema.extend({
  classes: z.array(z.number().int().nonnegative()).min(1).max(MAX_NETWORK_CLASSES),
});

export async function fetchNetworkInfo(
  endpoint: EndpointAddress,
  opts: RetryOptions = {},
): Promise<NetworkInfo> {
  const { body } = await getWithRetry(endpoint, '/v1/network', {
    ...opts,
    maxBytes: NETWORK_INFO_LIMIT,
  });
  const d = parseAnswer(NetworkInfoSchema, body, endpoint.url, 'GET /v1/network');
  const modelDigest = d.modelDigest ?? d.digest;
  const imageShape =
    d.imageShape ?? (typeof d.dataset === 'object' ? d.dataset.imageShape : undefined);
  if (!modelDigest)
    throw new EndpointError('format', endpoint.url, 'GET /v1/network names no model digest');
  if (!imageShape)
    throw new EndpointError('format', endpoint.url, 'GET /v1/network names no image shape');
  if (d.packetFormatVersion !== undefined && d.packetFormatVersion !== PACKET_FORMAT_VERSION) {
    throw new EndpointError(
      'format',
      endpoint.url,
      `serves packet format version ${d.packetFormatVersion}, this client reads version ${PACKET_FORMAT_VERSION}`,
    );
  }
  return {
    endpoint: endpoint.url,
    networkId: d.networkId,
    classes: [...d.classes],
    imageShape: [...imageShape] as ImageShape,
    modelDigest,
    maxCount: d.maxCount ?? d.limits?.maxCount,
    packetFormatVersion: d.packetFormatVersion,
    labels: d.labels === true,
    maxLabelCount: typeof d.limits?.maxLabelCount === 'number' ? d.limits.maxLabelCount : undefined,
    generators: d.generators?.map((g) => ({ name: g.name, targetsClasses: g.targetsClasses })),
    defaultGenerator: d.defaultGenerator,
    raw: d,
  };
}

export { type PacketRequest, packetPath };

/**
 * Check one decoded packet against what we asked for and what `/v1/network` said. Throws an
 * EndpointError naming the endpoint and the mismatch.
 */
export function verifyPacket(packet: Packet, info: NetworkInfo, req: PacketRequest): void {
  const m = packet.metadata;
  const at = `packet seed=${req.seed}`;
  if (m.modelDigest !== info.modelDigest) {
    throw new EndpointError(
      'digest-mismatch',
      info.endpoint,
      `${at}: model digest ${m.modelDigest.slice(0, 12)}… but /v1/network says ${info.modelDigest.slice(0, 12)}…`,
    );
  }
  if (m.networkId !== info.networkId) {
    throw new EndpointError(
      'format',
      info.endpoint,
      `${at}: made by network "${m.networkId}" but the endpoint serves "${info.networkId}"`,
    );
  }
  const known = new Set(req.classes?.length ? req.classes : info.classes);
  const foreign = m.classIds.filter((c) => !known.has(c));
  if (foreign.length > 0 || new Set(m.classIds).size !== m.classIds.length) {
    throw new EndpointError(
      'class-clash',
      info.endpoint,
      `${at}: class ids [${m.classIds.join(',')}] are not distinct ids of the network's classes [${[...known].join(',')}]`,
    );
  }
  if (packet.imageShape.join('x') !== info.imageShape.join('x')) {
    throw new EndpointError(
      'shape-mismatch',
      info.endpoint,
      `${at}: images are ${packet.imageShape.join('x')} but the network's are ${info.imageShape.join('x')}`,
    );
  }
  if (
    m.seed !== req.seed ||
    m.requested !== req.count ||
    Math.abs(m.threshold - req.threshold) > 1e-9
  ) {
    throw new EndpointError(
      'format',
      info.endpoint,
      `${at}: answers a different request (seed ${m.seed}, count ${m.requested}, threshold ${m.threshold}); a cache may be misconfigured`,
    );
  }
  for (let i = 0; i < packet.softLabels.length; i++) {
    const v = packet.softLabels[i]!;
    if (!(v >= 0 && v <= 1.0001)) {
      throw new EndpointError(
        'format',
        info.endpoint,
        `${at}: soft label ${v} at index ${i} is not a probability`,
      );
    }
  }
}

/** Fetch, decode and verify one packet. */
export async function fetchPacket(
  endpoint: EndpointAddress,
  info: NetworkInfo,
  req: PacketRequest,
  opts: RetryOptions = {},
): Promise<Packet> {
  const path = packetPath(req);
  const maxBytes = maxPacketBytes(req.count, info.imageShape, info.classes.length);
  if (maxBytes > MAX_PACKET_BYTES) {
    throw new EndpointError(
      'bad-request',
      endpoint.url,
      `GET ${path}: ${req.count} samples of ${info.imageShape.join('x')} images over ${info.classes.length} classes could be ${maxBytes} bytes, more than the ${MAX_PACKET_BYTES} this client reads in one packet`,
      { hint: 'ask for fewer samples per request (--chunk-size)' },
    );
  }
  const { body } = await getWithRetry(endpoint, path, { ...opts, seed: req.seed, maxBytes });
  let packet: Packet;
  try {
    packet = decodePacket(body);
  } catch (e) {
    if (e instanceof PacketFormatError) {
      throw new EndpointError('format', endpoint.url, `GET ${path}: ${e.message}`, { cause: e });
    }
    throw e;
  }
  verifyPacket(packet, info, req);
  return packet;
}

/** All samples one network shared, concatenated in chunk order. */
export interface PacketSet {
  endpoint: string;
  networkId: string;
  modelDigest: string;
  classIds: number[];
  imageShape: ImageShape;
  count: number;
  images: Uint8Array;
  /** [count, classIds.length] */
  softLabels: Float32Array;
  /** One entry per fetched chunk. */
  chunks: { seed: number; requested: number; kept: number }[];
}

export interface FetchSetOptions extends RetryOptions {
  /** Samples wanted after the threshold. */
  samples: number;
  /** Requested generations per chunk (capped by the endpoint's maxCount). Default 500. */
  chunkSize?: number;
  /** Chunk i uses seed deriveSeed(seed, `chunk-i`). */
  seed: number;
  threshold?: number;
  classes?: readonly number[] | undefined;
  generator?: string | undefined;
  /** Requests in flight at once, for this endpoint. Default 4. */
  concurrency?: number;
  /** Give up when this many chunks did not yield `samples` (e.g. a threshold nothing passes). */
  maxChunks?: number;
  onProgress?: (p: { endpoint: string; kept: number; wanted: number; chunks: number }) => void;
}

export function chunkSeed(seed: number, index: number): number {
  return deriveSeed(seed, `chunk-${index}`);
}

/**
 * Fetch `samples` verified samples from one endpoint as seeded chunks, at most `concurrency`
 * in flight. When a threshold drops samples, more chunks are fetched in waves sized by the
 * keep ratio seen so far. The result depends only on the endpoint's model and the options:
 * chunks are taken in index order and the tail is cut to exactly `samples`.
 */
export async function fetchPacketSet(
  endpoint: EndpointAddress,
  info: NetworkInfo,
  opts: FetchSetOptions,
): Promise<PacketSet> {
  const chunkSize = Math.min(opts.chunkSize ?? 500, info.maxCount ?? Number.POSITIVE_INFINITY);
  const threshold = opts.threshold ?? 0;
  const concurrency = opts.concurrency ?? 4;
  const maxChunks = opts.maxChunks ?? Math.max(20, Math.ceil(opts.samples / chunkSize) * 20);
  const packets: Packet[] = [];
  let kept = 0;
  let requested = 0;
  while (kept < opts.samples) {
    const remaining = opts.samples - kept;
    // Endpoints that return exactly `count` kept samples give ratio 1; ones that drop
    // samples below the threshold are asked for more, sized by the keep ratio so far.
    const ratio = requested === 0 ? 1 : Math.max(kept / requested, 0.02);
    const need = Math.ceil(remaining / ratio / (requested === 0 ? 1 : 0.9));
    const wave = Math.min(Math.ceil(need / chunkSize), maxChunks - packets.length);
    if (wave <= 0) {
      throw new EndpointError(
        'bad-request',
        endpoint.url,
        `only ${kept} of ${opts.samples} samples passed threshold ${threshold} in ${packets.length} chunks`,
        { hint: 'lower the threshold, or ask for fewer samples' },
      );
    }
    const start = packets.length;
    const reqs = Array.from({ length: wave }, (_, j) => ({
      count: Math.max(1, Math.min(chunkSize, need - j * chunkSize)),
      seed: chunkSeed(opts.seed, start + j),
      threshold,
      classes: opts.classes,
      generator: opts.generator,
    }));
    let waveKept = 0;
    const got = await mapPool(reqs, concurrency, async (req) => {
      const p = await fetchPacket(endpoint, info, req, opts);
      waveKept += p.metadata.kept;
      opts.onProgress?.({
        endpoint: endpoint.url,
        kept: Math.min(kept + waveKept, opts.samples),
        wanted: opts.samples,
        chunks: packets.length + 1,
      });
      return p;
    });
    for (const p of got) {
      packets.push(p);
      kept += p.metadata.kept;
      requested += p.metadata.requested;
    }
  }
  return concatPackets(endpoint.url, info, packets, opts.samples);
}

function concatPackets(
  endpoint: string,
  info: NetworkInfo,
  packets: Packet[],
  limit: number,
): PacketSet {
  const classIds = [...(packets[0]?.metadata.classIds ?? info.classes)];
  const [h, w, c] = info.imageShape;
  const px = h * w * c;
  const k = classIds.length;
  const images = new Uint8Array(limit * px);
  const softLabels = new Float32Array(limit * k);
  let n = 0;
  const chunks: PacketSet['chunks'] = [];
  for (const p of packets) {
    chunks.push({ seed: p.metadata.seed, requested: p.metadata.requested, kept: p.metadata.kept });
    const cols = p.metadata.classIds.map((id) => classIds.indexOf(id));
    if (cols.some((i) => i < 0)) {
      throw new EndpointError(
        'class-clash',
        endpoint,
        `packet seed=${p.metadata.seed} has class ids [${p.metadata.classIds.join(',')}], other chunks [${classIds.join(',')}]`,
      );
    }
    const take = Math.min(p.metadata.kept, limit - n);
    images.set(p.images.subarray(0, take * px), n * px);
    const pk = p.metadata.classIds.length;
    for (let i = 0; i < take; i++) {
      for (let j = 0; j < pk; j++) softLabels[(n + i) * k + cols[j]!] = p.softLabels[i * pk + j]!;
    }
    n += take;
  }
  return {
    endpoint,
    networkId: info.networkId,
    modelDigest: info.modelDigest,
    classIds,
    imageShape: info.imageShape,
    count: n,
    images: images.subarray(0, n * px),
    softLabels: softLabels.subarray(0, n * k),
    chunks,
  };
}
