import { type LabelResponse, MAX_LABEL_COUNT, type NetworkDescription } from '../core/api';
import {
  type CalibratedScorer,
  createScorer,
  imagesTensor,
  type MemberAnswer,
  scoreImages,
} from '../core/calibration';
import { builtinGenerators, defaultGeneratorFor, type GeneratorRegistry } from '../core/generators';
import { portableKernels } from '../core/kernels/override';
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
  /**
   * The classifier with its calibration (`net.calibration`), built once when the network is
   * served: what `POST /v1/label` answers with. None when the folder has no calibration.json.
   */
  scorer?: CalibratedScorer | undefined;
}

export function createServedNetwork(
  net: LoadedNetwork,
  opts: {
    limits?: Partial<Limits> | undefined;
    generators?: GeneratorRegistry;
    /** Serve only these generators (an allow-list; unset: every one the network can). */
    servedGenerators?: readonly string[] | undefined;
    kernels?: string;
  } = {},
): ServedNetwork {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const m = limits.maxLabelCount;
  if (!Number.isInteger(m) || m < 1 || m > MAX_LABEL_COUNT) {
    throw new Error(`limits.maxLabelCount is ${m}; it must be an integer in 1..${MAX_LABEL_COUNT}`);
  }
  let generators = opts.generators ?? builtinGenerators();
  if (opts.servedGenerators) {
    generators = generators.only(opts.servedGenerators);
    if (generators.availableFor(net.manifest).length === 0) {
      throw new Error(
        `${net.manifest.networkId} can make none of the served generators ${opts.servedGenerators.join(', ')}`,
      );
    }
  }
  return {
    net,
    generators,
    limits,
    kernels: opts.kernels ?? 'stock',
    scheduler: createScheduler({
      concurrency: limits.maxConcurrentPackets,
      maxQueued: limits.maxQueuedPackets,
    }),
    // Built now: a calibration that does not fit its classifier fails the load, naming it.
    ...(net.calibration ? { scorer: createScorer(net.classifier, net.calibration) } : {}),
  };
}

/** A label job stopped because its request was aborted (the client went away). */
export class LabelAbortedError extends Error {
  constructor() {
    super('the label request was aborted');
    this.name = 'LabelAbortedError';
  }
}

/**
 * What the network's calibrated classifier says of `count` uint8 images ([count, H, W, C] of
 * the network's image shape), once the endpoint's scheduler gives the request a slot (503
 * when its queue is full): `limits.batchSize` images at a time, yielding to the event loop
 * between batches, stopping at the next batch once `signal` aborts. Each batch's tensors are
 * freed before the next: none outlives the call. Like packets, computed on portable kernels.
 */
export function labelImages(
  served: ServedNetwork,
  images: Uint8Array,
  count: number,
  signal?: AbortSignal,
): Promise<MemberAnswer> {
  const { scorer } = served;
  if (!scorer) throw new Error(`${served.net.manifest.networkId} has no calibration`);
  const imageShape = served.net.manifest.dataset.imageShape;
  const k = scorer.classes.length;
  const batch = Math.max(1, served.limits.batchSize);
  return served.scheduler.run(async () => {
    const score = new Float32Array(count);
    const probabilities = new Float32Array(count * k);
    for (let start = 0; start < count; start += batch) {
      if (signal?.aborted) throw new LabelAbortedError();
      const n = Math.min(batch, count - start);
      const x = imagesTensor({ images, imageShape }, start, n);
      try {
        // Node's native kernels step aside: the same answer as in workerd, to the last bit.
        const a = portableKernels(() => scoreImages(scorer, x));
        score.set(a.score, start);
        probabilities.set(a.probabilities, start * k);
      } finally {
        x.dispose();
      }
      served.scheduler.batchDone();
      await yieldToEventLoop();
    }
    return { score, probabilities };
  }, signal);
}

/**
 * Shortest decimal that reads back as the same float32 (9 significant digits always do):
 * the JSON stays compact and the client's Float32Array gets the exact values.
 */
const f32 = (v: number): number => Number(v.toPrecision(9));

/** The `POST /v1/label` body of an answer about `count` images. */
export function labelResponse(
  served: ServedNetwork,
  answer: MemberAnswer,
  count: number,
): LabelResponse {
  const classes = [...served.net.manifest.classes];
  const k = classes.length;
  return {
    networkId: served.net.manifest.networkId,
    modelDigest: served.net.digest,
    classes,
    count,
    score: Array.from(answer.score, f32),
    probabilities: Array.from({ length: count }, (_, i) =>
      Array.from(answer.probabilities.subarray(i * k, (i + 1) * k), f32),
    ),
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
    labels: served.scorer !== undefined,
  };
}

export function defaultGenerator(served: ServedNetwork): string {
  return defaultGeneratorFor(served.generators, served.net.manifest);
}
