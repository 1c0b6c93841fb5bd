import type * as tfl from '@tensorflow/tfjs-layers';
import { type LoadedNetwork, loadNetwork } from '../core/model-folder';
import { deriveSeed } from '../core/rng';
import { folderReader } from '../node/fs-atomic';
import {
  applyCrossLabel,
  type CrossLabelSetting,
  planCrossLabel,
  resolveThreshold,
} from './cross-label-plan';
import {
  type FetchSetOptions,
  fetchNetworkInfo,
  fetchPacketSet,
  type NetworkInfo,
} from './endpoint';
import { ClientError, EndpointError } from './errors';
import { type Evaluation, evaluate, type LabelledImages, modelPredictor } from './evaluate';
import {
  DEFAULT_SCHEDULE,
  type EpochInfo,
  type FinetuneSchedule,
  finetune,
  widenClassifier,
} from './finetune';
import type { EndpointAddress, RetryOptions } from './http';
import { mergeSets, oneHotSet, type SoftSet, withTemperature } from './merge';
import { generateReplaySet } from './replay';
import { saveMergedFolder } from './save';

export type ClientEvent =
  | { kind: 'network'; info: NetworkInfo }
  | { kind: 'download'; endpoint: string; kept: number; wanted: number; chunks: number }
  | { kind: 'retry'; url: string; attempt: number; delayMs: number; message: string }
  | { kind: 'replay'; source: string; count: number }
  | { kind: 'merged'; count: number; classes: number[] }
  | { kind: 'label'; source: string; labelled: number; total: number }
  | { kind: 'cross-labelled'; count: number; agreement: number }
  | { kind: 'cross-label-skipped'; reason: string }
  | { kind: 'batch'; epoch: number; batch: number; batches: number; loss: number }
  | ({ kind: 'epoch' } & EpochInfo)
  | { kind: 'evaluated'; which: 'target' | 'merged'; accuracy: number }
  | { kind: 'saved'; dir: string };

export interface RunClientOptions extends RetryOptions {
  endpoints: readonly EndpointAddress[];
  /** The target network's model folder (its classifier is fine-tuned; nothing there is changed). */
  targetDir: string;
  /** Save the merged classifier here (atomically). */
  outDir?: string | undefined;
  /** Network id of the saved folder; default `<target>-merged`. */
  outNetworkId?: string | undefined;
  /** Samples to fetch from each endpoint (after the threshold). */
  samplesPerNetwork?: number;
  /** Or: samples per class of each endpoint's network (the paper: 5000); wins when set. */
  samplesPerClass?: number | undefined;
  /**
   * Samples of the target's own replay set. Taken from an endpoint that serves the target
   * itself (same network id and digest) when one is listed, else generated locally from the
   * target's folder. Default: samplesPerNetwork; 0 turns replay off.
   */
  replaySamples?: number | undefined;
  /**
   * Keep samples whose top soft label reaches this; 'auto': the default recipe's
   * (`crossLabelThreshold` while cross-labelling, else `threshold`). Absent: 0.
   */
  threshold?: number | 'auto' | undefined;
  seed: number;
  chunkSize?: number;
  /** Packet requests in flight across all endpoints. Default 4. */
  concurrency?: number;
  generator?: string | undefined;
  /**
   * Ask each endpoint for equal per-class quotas (`classes=` all its classes), which is how
   * "N samples per class" is reached with an unconditional generator: the endpoint keeps
   * generating until every class (by the classifier's argmax) has its share. A generator
   * that rarely makes some class exhausts the endpoint's attempt budget (HTTP 422), so this
   * is off by default: samples then follow the generator's own class mix.
   */
  balanceClasses?: boolean;
  allowOverlap?: boolean;
  schedule?: Partial<FinetuneSchedule>;
  /** Soft labels p^(1/T), renormalised, for every source (default 1: as sent). */
  labelTemperature?: number | undefined;
  /**
   * Every fine-tuning epoch on new samples: `epochs` times the samples are fetched (new
   * seeds) and the schedule makes one pass over them, so no sample is seen twice; the
   * learning-rate schedule over the steps is the same.
   */
  freshSamples?: boolean | undefined;
  /**
   * The target's own real training images (labels = class ids). When given they stand in
   * for its generated replay, with one-hot labels. The paper's protocol uses replay.
   */
  ownImages?: LabelledImages | undefined;
  /**
   * Cross-labelling (src/client/cross-label.ts): weight w in 0..1 (0 or absent: off), or
   * 'auto' (the default recipe's weight when every network is calibrated, else off). Every
   * sample's target becomes (1 - w) x its sender's soft label + w x the fair ensemble's
   * answer, each network's calibrated answer asked of its endpoint (`POST /v1/label`), the
   * target's own from its folder's calibration.json when no endpoint serves it.
   */
  crossLabel?: CrossLabelSetting | undefined;
  /** Evaluate the target before and the merged classifier after on this set. */
  test?: LabelledImages | undefined;
  onEvent?: (e: ClientEvent) => void;
}

export interface RunClientResult {
  targetId: string;
  classes: number[];
  sources: { source: string; networkId: string; count: number }[];
  history: EpochInfo[];
  /** The threshold and cross-labelling weight used (what 'auto' resolved to). */
  settings: { threshold: number; crossLabel: number };
  /** With cross-labelling: how often the fair ensemble's top class was the sender's. */
  crossLabelAgreement?: number;
  target?: Evaluation;
  merged?: Evaluation;
  savedTo?: string;
  /** The fine-tuned classifier (columns = classes); the caller disposes it. */
  model: tfl.LayersModel;
  seconds: { fetch: number; finetune: number; total: number };
}

/**
 * The client end to end: describe every endpoint, fetch verified packets in seeded chunks,
 * add the target's replay set, merge over the union of classes, fine-tune the widened
 * target classifier, evaluate, save. All fetching and verification finishes before any
 * training, and the folder is written only at the very end (atomically): a failing endpoint
 * leaves nothing behind.
 */
export async function runClient(opts: RunClientOptions): Promise<RunClientResult> {
  const t0 = performance.now();
  const emit = opts.onEvent ?? (() => {});
  let target: LoadedNetwork;
  try {
    target = await loadNetwork(folderReader(opts.targetDir));
  } catch (e) {
    throw new ClientError(`target ${opts.targetDir}: ${(e as Error).message}`);
  }
  try {
    return await runWithTarget(target, opts, emit, t0);
  } finally {
    target.classifier.dispose();
    target.decoder.dispose();
  }
}

function samplesFor(opts: RunClientOptions, classes: number): number {
  const passes = opts.freshSamples ? (opts.schedule?.epochs ?? DEFAULT_SCHEDULE.epochs) : 1;
  if (opts.samplesPerClass !== undefined) return opts.samplesPerClass * classes * passes;
  if (opts.samplesPerNetwork !== undefined) return opts.samplesPerNetwork * passes;
  throw new ClientError('give samplesPerNetwork or samplesPerClass');
}

async function runWithTarget(
  target: LoadedNetwork,
  opts: RunClientOptions,
  emit: (e: ClientEvent) => void,
  t0: number,
): Promise<RunClientResult> {
  if (opts.endpoints.length === 0) throw new ClientError('no endpoints given');
  const retry: RetryOptions = {
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.backoffMs === undefined ? {} : { backoffMs: opts.backoffMs }),
    ...(opts.maxBackoffMs === undefined ? {} : { maxBackoffMs: opts.maxBackoffMs }),
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    signal: opts.signal,
    onRetry: (r) =>
      emit({
        kind: 'retry',
        url: r.url,
        attempt: r.attempt,
        delayMs: r.delayMs,
        message: r.error.message,
      }),
  };
  const infos = await Promise.all(opts.endpoints.map((e) => fetchNetworkInfo(e, retry)));
  const want = target.manifest.dataset.imageShape.join('x');
  const seenIds = new Map<string, string>();
  for (const info of infos) {
    emit({ kind: 'network', info });
    if (info.imageShape.join('x') !== want) {
      throw new EndpointError(
        'shape-mismatch',
        info.endpoint,
        `serves ${info.imageShape.join('x')} images, the target ${target.manifest.networkId} takes ${want}`,
      );
    }
    const dup = seenIds.get(info.networkId);
    if (dup) {
      throw new EndpointError(
        'class-clash',
        info.endpoint,
        `serves network "${info.networkId}", which ${dup} serves too`,
        { hint: 'list each network once' },
      );
    }
    seenIds.set(info.networkId, info.endpoint);
    if (info.networkId === target.manifest.networkId && info.modelDigest !== target.digest) {
      throw new EndpointError(
        'digest-mismatch',
        info.endpoint,
        `serves network "${info.networkId}" with digest ${info.modelDigest.slice(0, 12)}…, but the target folder's is ${target.digest.slice(0, 12)}…`,
        { hint: 'point the client at the same model folder the endpoint serves' },
      );
    }
  }
  const plan = planCrossLabel(opts.crossLabel, infos, opts.endpoints, target, retry);
  if (plan.skipped) emit({ kind: 'cross-label-skipped', reason: plan.skipped });
  const served = !plan.local;
  const threshold = resolveThreshold(opts.threshold, plan);
  const perEndpoint = Math.max(1, Math.floor((opts.concurrency ?? 4) / infos.length));
  const fetched = await Promise.all(
    infos.map((info, i) => {
      const isTarget = info.networkId === target.manifest.networkId;
      if (isTarget && opts.ownImages) return undefined; // its real images stand in below
      const own = samplesFor(opts, info.classes.length);
      const samples = isTarget ? (opts.replaySamples ?? own) : own;
      const fo: FetchSetOptions = {
        ...retry,
        samples,
        seed: deriveSeed(opts.seed, info.networkId),
        threshold,
        concurrency: perEndpoint,
        generator: opts.generator,
        classes: opts.balanceClasses ? info.classes : undefined,
        ...(opts.chunkSize === undefined ? {} : { chunkSize: opts.chunkSize }),
        onProgress: (p) => emit({ kind: 'download', ...p }),
      };
      return fetchPacketSet(opts.endpoints[i]!, info, fo).then(
        (s): SoftSet => ({ ...s, source: s.endpoint }),
      );
    }),
  );
  const sets = fetched.filter((s): s is SoftSet => s !== undefined);
  const replaySamples = opts.replaySamples ?? samplesFor(opts, target.manifest.classes.length);
  if (opts.ownImages) {
    sets.push(oneHotSet(`own:${target.manifest.networkId}`, target.manifest, opts.ownImages));
  } else if (!served && replaySamples > 0) {
    const replay = await generateReplaySet(target, {
      samples: replaySamples,
      seed: deriveSeed(opts.seed, `replay-${target.manifest.networkId}`),
      threshold,
      generator: opts.generator,
      classes: opts.balanceClasses ? target.manifest.classes : undefined,
    });
    emit({ kind: 'replay', source: replay.source, count: replay.count });
    sets.push(replay);
  }
  const fetchSeconds = (performance.now() - t0) / 1000;
  const temperature = opts.labelTemperature ?? 1;
  let merged = mergeSets(
    sets.filter((s) => s.count > 0).map((s) => withTemperature(s, temperature)),
    {
      seed: deriveSeed(opts.seed, 'merge'),
      extraClasses: target.manifest.classes,
      ...(opts.allowOverlap === undefined ? {} : { allowOverlap: opts.allowOverlap }),
    },
  );
  emit({ kind: 'merged', count: merged.count, classes: merged.classes });
  let crossLabelAgreement: number | undefined;
  if (plan.weight > 0) {
    const r = await applyCrossLabel(plan, merged, target, (p) => emit({ kind: 'label', ...p }));
    merged = r.set;
    crossLabelAgreement = r.agreement;
    emit({ kind: 'cross-labelled', count: merged.count, agreement: r.agreement });
  }

  const before = opts.test
    ? await evaluate(modelPredictor(target.classifier, target.manifest.classes), opts.test)
    : undefined;
  if (before) emit({ kind: 'evaluated', which: 'target', accuracy: before.accuracy });

  const model = widenClassifier(
    target.classifier,
    target.manifest,
    target.manifest.classes,
    merged.classes,
    deriveSeed(opts.seed, 'head'),
  );
  const t1 = performance.now();
  let history: EpochInfo[];
  try {
    history = await finetune(model, merged, {
      ...opts.schedule,
      // fresh samples: one pass over epochs x samples is the schedule's steps, each on a new sample
      ...(opts.freshSamples ? { epochs: 1 } : {}),
      seed: deriveSeed(opts.seed, 'finetune'),
      onEpoch: (e) => emit({ kind: 'epoch', ...e }),
      onBatch: (b) => emit({ kind: 'batch', ...b }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const finetuneSeconds = (performance.now() - t1) / 1000;
  const after = opts.test
    ? await evaluate(modelPredictor(model, merged.classes), opts.test)
    : undefined;
  if (after) emit({ kind: 'evaluated', which: 'merged', accuracy: after.accuracy });

  let savedTo: string | undefined;
  if (opts.outDir) {
    const perClass = after?.perClass
      .filter((p) => merged.classes.includes(p.classId))
      .map((p) => ({ classId: p.classId, accuracy: p.accuracy }));
    await saveMergedFolder(opts.outDir, target.manifest, model, target.decoder, {
      networkId: opts.outNetworkId ?? `${target.manifest.networkId}-merged`.slice(0, 40),
      classes: merged.classes,
      training: {
        seed: opts.seed,
        epochs: history.length,
        batchSize: opts.schedule?.batchSize ?? 64,
        durationSeconds: finetuneSeconds,
        ...(after ? { heldOutAccuracy: after.accuracy } : {}),
        ...(perClass ? { perClassAccuracy: perClass } : {}),
      },
    });
    savedTo = opts.outDir;
    emit({ kind: 'saved', dir: opts.outDir });
  }
  return {
    targetId: target.manifest.networkId,
    classes: merged.classes,
    sources: merged.sources,
    history,
    settings: { threshold, crossLabel: plan.weight },
    ...(crossLabelAgreement === undefined ? {} : { crossLabelAgreement }),
    ...(before ? { target: before } : {}),
    ...(after ? { merged: after } : {}),
    ...(savedTo ? { savedTo } : {}),
    model,
    seconds: {
      fetch: fetchSeconds,
      finetune: finetuneSeconds,
      total: (performance.now() - t0) / 1000,
    },
  };
}
