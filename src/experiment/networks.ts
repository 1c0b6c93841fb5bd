import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Variant } from '../core/manifest';
import {
  type LoadedNetwork,
  loadModelFolder,
  loadNetwork,
  serializeModel,
} from '../core/model-folder';
import type { Dataset, DatasetPair } from '../data/idx';
import { networkIds, randomPartition, validatePartition } from '../data/partition';
import { concatDatasets } from '../data/subsample';
import { folderReader, pathExists, writeFolderAtomic } from '../node/fs-atomic';
import {
  networkDatasets,
  type TrainNetworkOptions,
  trainAndExport,
  trainNetworkClassifier,
} from '../train/train-network';
import type { ExperimentConfig } from './config';
import { computeOnce, UnitBusyError, type UnitStore, type WaitPolicy } from './unit-store';

/** One repeat of the experiment: its seed, its partition, and where its units live. */
export interface RepeatContext {
  config: ExperimentConfig;
  data: DatasetPair;
  /** The (possibly limited) test set every row is scored on. */
  test: Dataset;
  store: UnitStore;
  repeat: number;
  seed: number;
  partition: number[][];
  ids: string[];
  /** Index of the fine-tuned network in `ids`. */
  target: number;
  log: (line: string) => void;
  verbose: boolean;
  /** Wait for units other processes hold, or report them busy (see computeOnce). */
  policy: WaitPolicy;
}

/** The config's explicit partition, or the paper's seeded random split for this repeat. */
export function repeatPartition(
  config: ExperimentConfig,
  classIds: readonly number[],
  seed: number,
): number[][] {
  return config.partition
    ? validatePartition(config.partition, classIds)
    : randomPartition(classIds, config.networks, seed);
}

/** Index of the config's target network (default: the last). */
export function targetIndex(config: ExperimentConfig): number {
  const ids = networkIds(config.networks);
  if (config.target === undefined) return ids.length - 1;
  const i = ids.indexOf(config.target);
  if (i < 0) {
    throw new RangeError(`target ${config.target} is not one of the networks ${ids.join(', ')}`);
  }
  return i;
}

export function variantKey(v: Variant): string {
  return `${v.architecture}-${v.loss}-${v.reconstruction}`;
}

function netsDir(ctx: RepeatContext): string {
  return join(ctx.store.trainRoot, `s${ctx.seed}`, 'nets');
}

/** The training options of network `i` of this repeat, with progress lines. */
export function trainingOptions(
  ctx: RepeatContext,
  i: number,
  variant: Variant,
): TrainNetworkOptions {
  const t = ctx.config.train;
  let lastBatchLog = performance.now();
  return {
    networkId: ctx.ids[i]!,
    classes: ctx.partition[i]!,
    data: ctx.data,
    variant,
    architecture: t.architecture,
    latentSize: t.latentSize,
    epochs: t.epochs,
    vaeEpochs: t.vaeEpochs,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    maxTrainSamples: t.maxTrainSamples,
    validationFraction: t.validationFraction,
    patience: t.patience,
    klWeight: t.klWeight,
    perceptualWeight: t.perceptualWeight,
    adversarialEpochs: t.adversarialEpochs,
    adversarialWeight: t.adversarialWeight,
    adversarialCritic: t.adversarialCritic,
    adversarialFakes: t.adversarialFakes,
    seed: ctx.seed,
    onEvent: (e) => {
      if (e.kind === 'epoch-end') {
        ctx.log(
          `    ${e.network} ${e.stage} epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)}${e.accuracy === undefined ? '' : ` acc ${e.accuracy.toFixed(3)}`} (${e.imagesPerSecond.toFixed(0)} img/s)`,
        );
      } else if (e.kind === 'batch' && ctx.verbose && performance.now() - lastBatchLog > 10_000) {
        lastBatchLog = performance.now();
        ctx.log(
          `    ${e.network} ${e.stage} epoch ${e.epoch} batch ${e.batch}/${e.batchesPerEpoch} loss ${e.loss.toFixed(4)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
        );
      }
    },
  };
}

/**
 * Network i's trained classifier (stage 1, which no variant changes), a unit of its own:
 * loaded when cached, else trained and saved. The caller owns the returned model.
 */
export function classifierUnit(ctx: RepeatContext, i: number): Promise<tfl.LayersModel> {
  const dir = join(ctx.store.classifierRoot, `s${ctx.seed}`, 'classifier', ctx.ids[i]!);
  const opts = trainingOptions(ctx, i, {
    architecture: 'separate',
    loss: 'perceptual',
    reconstruction: 'bce',
  });
  return computeOnce(
    dir,
    async () =>
      (await pathExists(join(dir, 'model.json'))) ? loadModelFolder(folderReader(dir)) : undefined,
    async () => {
      const t = performance.now();
      ctx.log(`  training ${opts.networkId}'s classifier (classes ${opts.classes.join(',')})...`);
      const model = await trainNetworkClassifier(opts);
      await writeFolderAtomic(dir, await serializeModel(model));
      ctx.log(
        `  trained ${opts.networkId}'s classifier in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
      return model;
    },
    ctx.policy,
    () => ctx.log(`  waiting for ${opts.networkId}'s classifier (another process trains it)...`),
  );
}

/**
 * The model folders of this repeat's networks for `variant`, training the missing ones
 * (each network's classifier, then its generator). While not waiting, a network another
 * process is training is skipped so this one can train the next, and UnitBusyError is thrown
 * at the end; a process only waits while holding no network's claim, so two never deadlock.
 */
export async function networkDirs(ctx: RepeatContext, variant: Variant): Promise<string[]> {
  const dirs = ctx.ids.map((id) => join(netsDir(ctx), variantKey(variant), id));
  let busy: unknown;
  for (let i = 0; i < ctx.ids.length; i++) {
    try {
      await networkUnit(ctx, i, variant, dirs[i]!);
    } catch (e) {
      if (!(e instanceof UnitBusyError)) throw e;
      busy = e;
    }
  }
  if (busy) throw busy;
  return dirs;
}

async function networkUnit(ctx: RepeatContext, i: number, variant: Variant, dir: string) {
  const done = async () => ((await pathExists(join(dir, 'manifest.json'))) ? true : undefined);
  if (await done()) return;
  const classifier = await classifierUnit(ctx, i);
  let used = false;
  try {
    await computeOnce(
      dir,
      done,
      async () => {
        const t = performance.now();
        const unit = trainingOptions(ctx, i, variant);
        ctx.log(
          `  training ${unit.networkId} (${variantKey(variant)}, classes ${unit.classes.join(',')})...`,
        );
        used = true;
        await trainAndExport(dir, { ...unit, classifier });
        ctx.log(
          `  trained ${unit.networkId} (${variantKey(variant)}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
        return true;
      },
      ctx.policy,
      () =>
        ctx.log(
          `  waiting for ${ctx.ids[i]} (${variantKey(variant)}): another process trains it...`,
        ),
    );
  } finally {
    if (!used) classifier.dispose();
  }
}

/**
 * Run `f` on every network's trained classifier with its classes (trained when missing),
 * disposing them after, as `withNetworks` does for whole networks.
 */
export async function withClassifiers<T>(
  ctx: RepeatContext,
  f: (classifiers: { model: tfl.LayersModel; classes: number[] }[]) => Promise<T>,
): Promise<T> {
  const classifiers: { model: tfl.LayersModel; classes: number[] }[] = [];
  try {
    for (let i = 0; i < ctx.ids.length; i++) {
      classifiers.push({ model: await classifierUnit(ctx, i), classes: ctx.partition[i]! });
    }
    return await f(classifiers);
  } finally {
    for (const c of classifiers) c.model.dispose();
  }
}

/** Each network's training images and validation slice, exactly as its training saw them. */
export function networkData(ctx: RepeatContext): { train: Dataset; validation: Dataset }[] {
  return ctx.ids.map((id, i) =>
    networkDatasets({
      networkId: id,
      classes: ctx.partition[i]!,
      data: ctx.data,
      seed: ctx.seed,
      maxTrainSamples: ctx.config.train.maxTrainSamples,
      validationFraction: ctx.config.train.validationFraction,
    }),
  );
}

/** The union of the networks' validation slices (for choosing recipes; never trained on). */
export function validationUnion(ctx: RepeatContext): Dataset | undefined {
  const slices = networkData(ctx)
    .map((d) => d.validation)
    .filter((d) => d.count > 0);
  return slices.length === ctx.ids.length ? concatDatasets(slices) : undefined;
}

/** The networks in `dirs`, loaded for `f` and disposed after it, whatever it does. */
export async function withNetworks<T>(
  dirs: readonly string[],
  f: (nets: LoadedNetwork[]) => Promise<T>,
): Promise<T> {
  const nets: LoadedNetwork[] = [];
  try {
    for (const d of dirs) nets.push(await loadNetwork(folderReader(d)));
    return await f(nets);
  } finally {
    for (const n of nets) {
      n.classifier.dispose();
      n.decoder.dispose();
    }
  }
}
