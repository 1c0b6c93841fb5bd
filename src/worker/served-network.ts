import type { NetworkDescription } from '../core/api';
import { builtinGenerators, DEFAULT_GENERATOR, type GeneratorRegistry } from '../core/generators';
import { sha256Hex } from '../core/manifest';
import type { LoadedNetwork } from '../core/model-folder';
import { encodePacket, PACKET_FORMAT_VERSION, type PacketMetadata } from '../core/packet';
import { type SampleParams, type SampleSet, sampleFiltered } from '../core/sampling';
import { DEFAULT_LIMITS, type Limits } from './limits';
import { createScheduler, type Scheduler, yieldToEventLoop } from './scheduler';

/** Bumped when the same inputs would give different packet bytes: part of every ETag. */
export const ENDPOINT_VERSION = 1;

/**
 * A served network: the loaded network with everything a request needs (its generators,
 * limits and packet scheduler). One per endpoint; the app reads it as `c.get('network')`.
 */
export interface ServedNetwork {
  net: LoadedNetwork;
  generators: GeneratorRegistry;
  limits: Limits;
  /** Which conv kernels run ('fast' or 'stock'): they may change the last bits of outputs. */
  kernels: string;
  /** Bounds and orders this endpoint's packet work (limits.maxConcurrentPackets/maxQueuedPackets). */
  scheduler: Scheduler;
}

export function createServedNetwork(
  net: LoadedNetwork,
  opts: {
    limits?: Partial<Limits> | undefined;
    generators?: GeneratorRegistry;
    kernels?: string;
  } = {},
): ServedNetwork {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  return {
    net,
    generators: opts.generators ?? builtinGenerators(),
    limits,
    kernels: opts.kernels ?? 'stock',
    scheduler: createScheduler({
      concurrency: limits.maxConcurrentPackets,
      maxQueued: limits.maxQueuedPackets,
    }),
  };
}

export interface PacketParams extends SampleParams {
  generator: string;
}

/**
 * Samples for a request, once the endpoint's scheduler gives it a slot (503 when its queue is
 * full). Yields to the event loop after every batch, so other requests are answered while it
 * runs (jobs interleave batch by batch; each has its own RNG, so the bytes do not change), and
 * stops at the next batch once `signal` aborts (the client went away).
 */
export function generate(
  served: ServedNetwork,
  p: PacketParams,
  signal?: AbortSignal,
): Promise<SampleSet> {
  const plugin = served.generators.get(p.generator);
  if (!plugin) throw new Error(`generator ${p.generator} is not registered`);
  const { scheduler } = served;
  return scheduler.run(
    () =>
      sampleFiltered(served.net, plugin, p, served.limits, {
        signal,
        afterBatch: () => {
          scheduler.batchDone();
          return yieldToEventLoop();
        },
      }),
    signal,
  );
}

/** Strong ETag of the packet these parameters produce: known before generating it. */
export async function packetEtag(served: ServedNetwork, p: PacketParams): Promise<string> {
  const plugin = served.generators.get(p.generator);
  const key = JSON.stringify({
    endpoint: ENDPOINT_VERSION,
    format: PACKET_FORMAT_VERSION,
    digest: served.net.digest,
    generator: p.generator,
    generatorVersion: plugin?.version ?? 0,
    kernels: served.kernels,
    batch: served.limits.batchSize,
    attempts: served.limits.maxAttemptsPerSample,
    count: p.count,
    seed: p.seed,
    threshold: p.threshold,
    classes: p.classes ? [...p.classes].sort((a, b) => a - b) : null,
  });
  return `"${(await sha256Hex(new TextEncoder().encode(key))).slice(0, 40)}"`;
}

export async function buildPacket(
  served: ServedNetwork,
  p: PacketParams,
  signal?: AbortSignal,
): Promise<{ bytes: Uint8Array; metadata: PacketMetadata }> {
  const set = await generate(served, p, signal);
  const { manifest } = served.net;
  const metadata: PacketMetadata = {
    formatVersion: PACKET_FORMAT_VERSION,
    networkId: manifest.networkId,
    classIds: [...manifest.classes],
    generator: p.generator,
    modelDigest: served.net.digest,
    seed: p.seed,
    threshold: p.threshold,
    requested: p.count,
    generated: set.generated,
    kept: set.kept,
    perClass: set.perClass,
  };
  const bytes = encodePacket({
    metadata,
    images: set.images,
    imageShape: manifest.dataset.imageShape,
    softLabels: set.softLabels,
  });
  return { bytes, metadata };
}

/** The public part of the manifest, as `GET /v1/network` returns it. */
export function publicNetwork(served: ServedNetwork): NetworkDescription {
  const m = served.net.manifest;
  return {
    networkId: m.networkId,
    dataset: m.dataset.name,
    imageShape: m.dataset.imageShape,
    classes: m.classes,
    modelDigest: served.net.digest,
    packetFormatVersion: PACKET_FORMAT_VERSION,
    generators: served.generators.availableFor(m).map((g) => ({
      name: g.name,
      description: g.description,
      version: g.version,
      targetsClasses: g.targetsClasses,
    })),
    defaultGenerator: defaultGenerator(served),
    variant: m.variant,
    training: {
      heldOutAccuracy: m.training.heldOutAccuracy,
      perClassAccuracy: m.training.perClassAccuracy,
    },
    limits: served.limits,
  };
}

export function defaultGenerator(served: ServedNetwork): string {
  const available = served.generators.availableFor(served.net.manifest).map((g) => g.name);
  return available.includes(DEFAULT_GENERATOR)
    ? DEFAULT_GENERATOR
    : (available[0] ?? DEFAULT_GENERATOR);
}
