import { type LoadedNetwork, loadNetwork } from '../core/model-folder';
import { deriveSeed } from '../core/rng';
import { BudgetExhaustedError } from '../core/sampling';
import { folderReader } from '../node/fs-atomic';
import { addOwnBlends } from './blend';
import { applyCrossLabel, planCrossLabel, resolveThreshold } from './cross-label-plan';
import { type FetchSetOptions, fetchNetworkInfo, fetchPacketSet } from './endpoint';
import { ClientError, EndpointError } from './errors';
import { evaluate, modelPredictor } from './evaluate';
import {
  DEFAULT_SCHEDULE,
  type EpochInfo,
  finetune,
  freshClassifier,
  widenClassifier,
} from './finetune';
import { chooseGenerator, type GeneratorChoice, localMenu } from './generator-choice';
import type { RetryOptions } from './http';
import { mergeSets, oneHotSet, type SoftSet, withTemperature } from './merge';
import {
  defaultCrossLabelOwn,
  defaultKeepReplay,
  refuseUnconsentedSharing,
  withOwnImagesLoss,
} from './own-images';
import { generateReplaySet } from './replay';
import type { ClientEvent, RunClientOptions, RunClientResult } from './run-options';
import { saveMergedFolder } from './save';

export {
  type ClientEvent,
  type OwnImagesLoss,
  OwnImagesLossSchema,
  type RunClientOptions,
  type RunClientResult,
} from './run-options';

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

/**
 * Quotas that could not be filled: the endpoint refused the request (422, e.g. its budget of
 * candidates), or the local sampler ran out of its budget.
 */
function isUnfillable(e: unknown): boolean {
  if (e instanceof EndpointError) return e.code === 'bad-request' && e.status === 422;
  return e instanceof ClientError && e.cause instanceof BudgetExhaustedError;
}

/**
 * `fetch` with the choice's quotas. Quotas that 'auto' asked for and that cannot be filled are
 * dropped (the generator's own class mix is fetched instead, `choice.balance` records it, an
 * event says so); an explicit choice stays an error.
 */
async function withQuotaFallback<T>(
  choice: GeneratorChoice,
  opts: Pick<RunClientOptions, 'balanceClasses'>,
  where: string,
  emit: (e: ClientEvent) => void,
  fetch: (balance: boolean) => Promise<T>,
): Promise<T> {
  try {
    return await fetch(choice.balance);
  } catch (e) {
    if (!(opts.balanceClasses === 'auto' && choice.balance && isUnfillable(e))) throw e;
    choice.balance = false;
    emit({ kind: 'balance-dropped', endpoint: where, message: (e as Error).message });
    return fetch(false);
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
  const plan = planCrossLabel(
    opts.crossLabel,
    infos,
    opts.endpoints,
    target,
    retry,
    opts.crossLabelScope,
    opts.crossLabelOwn ?? defaultCrossLabelOwn(opts.ownImagesLoss),
  );
  if (plan.skipped) emit({ kind: 'cross-label-skipped', reason: plan.skipped });
  refuseUnconsentedSharing(opts, plan);
  const served = !plan.local;
  // the target's generated replay, unless its own real images replace it
  const withReplay = !opts.ownImages || (opts.keepReplay ?? defaultKeepReplay(opts.ownImagesLoss));
  const threshold = resolveThreshold(opts.threshold, plan);
  const perEndpoint = Math.max(1, Math.floor((opts.concurrency ?? 4) / infos.length));
  const choices: Record<string, GeneratorChoice> = {};
  const fetched = await Promise.all(
    infos.map((info, i) => {
      const isTarget = info.networkId === target.manifest.networkId;
      if (isTarget && !withReplay) return undefined; // its real images stand in below
      const choice = chooseGenerator(opts.generator, opts.balanceClasses, {
        offered: info.generators,
        defaultGenerator: info.defaultGenerator,
      });
      choices[info.networkId] = choice;
      const own = samplesFor(opts, info.classes.length);
      const samples = isTarget ? (opts.replaySamples ?? own) : own;
      const fo: FetchSetOptions = {
        ...retry,
        samples,
        seed: deriveSeed(opts.seed, info.networkId),
        threshold,
        concurrency: perEndpoint,
        generator: choice.named ? choice.generator : undefined,
        ...(opts.chunkSize === undefined ? {} : { chunkSize: opts.chunkSize }),
        onProgress: (p) => emit({ kind: 'download', ...p }),
      };
      return withQuotaFallback(choice, opts, info.endpoint, emit, (balance) =>
        fetchPacketSet(opts.endpoints[i]!, info, {
          ...fo,
          classes: balance ? info.classes : undefined,
        }).then((s): SoftSet => ({ ...s, source: s.endpoint })),
      );
    }),
  );
  const sets = fetched.filter((s): s is SoftSet => s !== undefined);
  const replaySamples = opts.replaySamples ?? samplesFor(opts, target.manifest.classes.length);
  if (opts.ownImages) {
    sets.push(oneHotSet(`own:${target.manifest.networkId}`, target.manifest, opts.ownImages));
  }
  if (withReplay && !served && replaySamples > 0) {
    const choice = chooseGenerator(opts.generator, opts.balanceClasses, localMenu(target.manifest));
    choices[target.manifest.networkId] = choice;
    const replay = await withQuotaFallback(choice, opts, 'local', emit, (balance) =>
      generateReplaySet(target, {
        samples: replaySamples,
        seed: deriveSeed(opts.seed, `replay-${target.manifest.networkId}`),
        threshold,
        generator: choice.generator,
        classes: balance ? target.manifest.classes : undefined,
      }),
    );
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
  if (opts.ownImages && (opts.ownBlends ?? 0) > 0) {
    merged = addOwnBlends(merged, {
      perRealImage: opts.ownBlends!,
      seed: deriveSeed(opts.seed, 'blends'),
    });
  }
  emit({ kind: 'merged', count: merged.count, classes: merged.classes });
  let crossLabelAgreement: number | undefined;
  if (plan.weight > 0) {
    const r = await applyCrossLabel(plan, merged, target, (p) => emit({ kind: 'label', ...p }));
    merged = r.set;
    crossLabelAgreement = r.agreement;
    emit({ kind: 'cross-labelled', count: merged.count, agreement: r.agreement });
  }
  merged = withOwnImagesLoss(merged, opts.ownImagesLoss, target.manifest.classes);

  const before = opts.test
    ? await evaluate(modelPredictor(target.classifier, target.manifest.classes), opts.test)
    : undefined;
  if (before) emit({ kind: 'evaluated', which: 'target', accuracy: before.accuracy });

  const model = opts.schedule?.fromScratch
    ? freshClassifier(target.manifest, merged.classes, deriveSeed(opts.seed, 'fresh'))
    : widenClassifier(
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
    settings: {
      threshold,
      crossLabel: plan.weight,
      crossLabelScope: plan.scope,
      ...(opts.ownImages && plan.weight > 0 ? { crossLabelOwn: plan.ownWeight } : {}),
      generators: Object.fromEntries(
        Object.entries(choices).map(([id, c]) => [
          id,
          { generator: c.generator, balance: c.balance },
        ]),
      ),
    },
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
