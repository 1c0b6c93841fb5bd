import { readdir, readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  EndpointError,
  type EnsembleMember,
  type Evaluation,
  ensemblePredictor,
  evaluate,
  modelPredictor,
  runClient,
} from '../client';
import { sha256Hex, type Variant } from '../core/manifest';
import {
  type LoadedNetwork,
  loadModelFolder,
  loadNetwork,
  serializeModel,
} from '../core/model-folder';
import { buildClassifier, buildDecoder, buildEncoder, disposeModels } from '../core/models';
import { deriveSeed } from '../core/rng';
import { type Dataset, type DatasetPair, loadDataset } from '../data/idx';
import { networkIds, randomPartition, selectClasses } from '../data/partition';
import { folderReader, pathExists, writeFileAtomic, writeFolderAtomic } from '../node/fs-atomic';
import { nativeInfo, nativeKernelsActive } from '../node/native-kernels';
import { claimUnit } from '../node/unit-claim';
import { trainClassifier } from '../train/classifier';
import {
  type TrainNetworkOptions,
  trainAndExport,
  trainNetworkClassifier,
} from '../train/train-network';
import type { EndpointRuntime } from '../worker/local-endpoint';
import { type ExperimentConfig, ROWS, type RowId, type RowSpec } from './config';
import { withFleet } from './fleet';
import { fmt, markdownTable, meanStd } from './stats';

export interface RunExperimentOptions {
  config: ExperimentConfig;
  repeats: number;
  /** Base seed; repeat r uses deriveSeed(seed, `repeat-r`). */
  seed: number;
  /** Cache and output root; default ./runs */
  runsDir?: string;
  runtime?: EndpointRuntime;
  rows?: readonly RowId[];
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Training progress: epoch lines of the networks being trained. */
  verbose?: boolean;
  /**
   * Only train the networks every selected row needs and compute the baseline rows (ensemble,
   * joint); generative rows are left for a later run (which then starts from cached networks).
   */
  networksOnly?: boolean;
  /**
   * Compute nothing: report the (repeat, row) units already cached, list the others under
   * `missing`. The table of a run that other processes are still computing.
   */
  cachedOnly?: boolean;
  /** How often to look again for units another process is computing (ms). Default 15 s. */
  pollMs?: number;
}

/** One finished (repeat, row) unit, as cached on disk. */
export interface RowRun {
  row: RowId;
  repeat: number;
  seed: number;
  partition: number[][];
  target?: string;
  accuracy: number;
  perClass: Evaluation['perClass'];
  confusion: number[][];
  labels: number[];
  seconds: Record<string, number>;
  /** Generative rows: samples per source, accuracy of the target alone, inference timing. */
  detail?: Record<string, unknown>;
}

export interface ExperimentResult {
  config: ExperimentConfig;
  configHash: string;
  /** Hash of trainingPart(config): names the cache of networks and baselines. */
  trainingHash: string;
  repeats: number;
  baseSeed: number;
  seeds: number[];
  runtime: EndpointRuntime;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    backend: string;
    /** The optional OpenBLAS kernels (src/node/native-kernels.ts), when active. */
    nativeKernels: { threads: number; blas: string } | null;
  };
  rows: {
    id: RowId;
    label: string;
    paper: { mean: number; std: number };
    accuracies: number[];
    mean: number;
    std: number;
    n: number;
  }[];
  sideClaims: Record<string, unknown>;
  runs: RowRun[];
  /** Rows of a repeat that an endpoint refused (not cached: a re-run retries them). */
  failures: { row: RowId; repeat: number; seed: number; error: string }[];
  /** Units not in the cache (only with `cachedOnly`, which computes nothing). */
  missing: { row: RowId; repeat: number; seed: number }[];
  seconds: number;
  dir: string;
}

/** A unit another process is working on right now (see src/node/unit-claim.ts). */
class UnitBusyError extends Error {}

/**
 * A classifier exported with one of this repeat's networks (any variant): stage 1 does not
 * depend on the variant. Caches from before classifiers were units of their own have only these.
 */
async function exportedClassifier(
  netsDir: string,
  id: string,
): Promise<tfl.LayersModel | undefined> {
  const names = await readdir(netsDir).catch(() => [] as string[]);
  for (const v of names.filter((n) => /^[a-z]+-[a-z]+-[a-z]+$/.test(n)).sort()) {
    const dir = join(netsDir, v, id);
    if (!(await pathExists(join(dir, 'manifest.json')))) continue;
    const net = await loadNetwork(folderReader(dir));
    disposeModels(net.decoder);
    return net.classifier;
  }
  return undefined;
}

async function readJson<T>(p: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(p, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function configHash(config: unknown): Promise<string> {
  return (await sha256Hex(new TextEncoder().encode(JSON.stringify(config)))).slice(0, 12);
}

/**
 * The part of a config that the trained networks and the baseline rows (ensemble, joint)
 * depend on. Units under it are shared by every config that differs only in how packets are
 * shared or how the target is fine-tuned.
 */
export function trainingPart(config: ExperimentConfig) {
  return {
    networks: config.networks,
    dataDir: config.dataDir,
    train: config.train,
    testLimit: config.testLimit,
  };
}

function variantKey(v: Variant): string {
  return `${v.architecture}-${v.loss}-${v.reconstruction}`;
}

function limitTest(ds: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= ds.count) return ds;
  const px = ds.imageShape[0] * ds.imageShape[1] * ds.imageShape[2];
  return {
    ...ds,
    count: limit,
    images: ds.images.subarray(0, limit * px),
    labels: ds.labels.subarray(0, limit),
  };
}

function summarise(e: Evaluation) {
  return { accuracy: e.accuracy, perClass: e.perClass, confusion: e.confusion, labels: e.labels };
}

/**
 * The paper's table over N repeats. Every finished unit is cached, so a killed run picks up
 * where it stopped:
 *  - `<runsDir>/train-<hash>/s<seed>/`: the trained networks (`nets/<variant>/<id>/`) and the
 *    baseline rows (`rows/ensemble.json`, `rows/joint.json`), keyed by `trainingPart(config)`
 *    only, so changing how packets are shared or how the target is fine-tuned reuses them;
 *  - `<runsDir>/<config>-<hash>/s<seed>/rows/<row>.json`: the generative rows, keyed by the
 *    whole config; `results.json` and `results.md` beside them.
 * Several processes (or machines sharing the folder) can run the same command at once: each
 * unit is claimed while it is being computed (src/node/unit-claim.ts), the others move on to
 * other units and wait for the claimed ones at the end. Packets travel over HTTP through
 * local endpoints.
 */
export async function runExperiment(opts: RunExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const { config } = opts;
  const runtime = opts.runtime ?? 'node';
  const hash = await configHash(config);
  const trainHash = await configHash(trainingPart(config));
  const runsDir = resolve(opts.runsDir ?? 'runs');
  const root = join(runsDir, `${config.name}-${hash}`);
  const trainRoot = join(runsDir, `train-${trainHash}`);
  await writeFileAtomic(join(root, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFileAtomic(
    join(trainRoot, 'config.json'),
    `${JSON.stringify(trainingPart(config), null, 2)}\n`,
  );
  const rows = ROWS.filter((r) => !opts.rows || opts.rows.includes(r.id));
  log(
    `experiment ${config.name} (${hash}): ${opts.repeats} repeat(s), rows ${rows.map((r) => r.id).join(', ')}${opts.networksOnly ? ' (networks and baselines only)' : ''}`,
  );
  log(`cache: ${trainRoot} (networks, baselines), ${root} (rows)`);
  const data = await loadDataset(config.dataDir === undefined ? {} : { dataDir: config.dataDir });
  const test = limitTest(data.test, config.testLimit);
  const seeds = Array.from({ length: opts.repeats }, (_, r) =>
    deriveSeed(opts.seed, `repeat-${r}`),
  );
  const ids = networkIds(config.networks);
  const done = new Map<string, RowRun>();
  const failures: ExperimentResult['failures'] = [];
  const missing: ExperimentResult['missing'] = [];

  /** Units are trained in one order (classifier, then generator): claims never deadlock. */
  const netDirs = async (r: number, variant: Variant): Promise<string[]> => {
    const seed = seeds[r]!;
    const partition = randomPartition(data.classIds, config.networks, seed);
    const netsDir = join(trainRoot, `s${seed}`, 'nets');
    const dirs: string[] = [];
    for (const [i, id] of ids.entries()) {
      const dir = join(netsDir, variantKey(variant), id);
      dirs.push(dir);
      if (await pathExists(join(dir, 'manifest.json'))) continue;
      const unit = trainingOptions(
        config,
        data,
        id,
        partition[i]!,
        variant,
        seed,
        log,
        opts.verbose,
      );
      const classifier = await classifierUnit(join(netsDir, 'classifier', id), netsDir, unit, log);
      const claim = await claimUnit(dir);
      if (!claim) {
        classifier.dispose();
        throw new UnitBusyError(dir);
      }
      try {
        if (await pathExists(join(dir, 'manifest.json'))) {
          classifier.dispose();
          continue;
        }
        const t = performance.now();
        log(`  training ${id} (${variantKey(variant)}, classes ${partition[i]!.join(',')})...`);
        await trainAndExport(dir, { ...unit, classifier });
        log(
          `  trained ${id} (${variantKey(variant)}) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      } finally {
        await claim.release();
      }
    }
    return dirs;
  };

  /** Runs one (repeat, row) unit unless cached; 'busy' when another process holds a unit it needs. */
  const runTask = async (r: number, row: RowSpec): Promise<'done' | 'busy'> => {
    const seed = seeds[r]!;
    const partition = randomPartition(data.classIds, config.networks, seed);
    const baseline = row.kind !== 'generative';
    if (!baseline && opts.networksOnly && !opts.cachedOnly) {
      try {
        await netDirs(r, row.variant!);
        return 'done';
      } catch (e) {
        if (e instanceof UnitBusyError) return 'busy';
        throw e;
      }
    }
    const file = join(baseline ? trainRoot : root, `s${seed}`, 'rows', `${row.id}.json`);
    const record = (run: RowRun, how: string) => {
      done.set(`${r}/${row.id}`, { ...run, repeat: r });
      log(`  repeat ${r + 1} ${row.id}: ${how}accuracy ${run.accuracy.toFixed(4)}`);
    };
    const cached = await readJson<RowRun>(file);
    if (cached) {
      record(cached, 'cached, ');
      return 'done';
    }
    if (opts.cachedOnly) {
      missing.push({ row: row.id, repeat: r, seed });
      log(`  repeat ${r + 1} ${row.id}: not computed yet`);
      return 'done';
    }
    const claim = await claimUnit(file);
    if (!claim) return 'busy';
    try {
      const again = await readJson<RowRun>(file);
      if (again) {
        record(again, 'cached, ');
        return 'done';
      }
      log(
        `repeat ${r + 1}/${opts.repeats} (seed ${seed}, partition ${partition.map((p) => p.join(',')).join(' / ')}): ${row.id}`,
      );
      const t = performance.now();
      const result = await runRow(row, {
        config,
        data,
        test,
        partition,
        seed,
        repeat: r,
        runtime,
        netDirs: (v) => netDirs(r, v),
        log,
      });
      result.seconds.total = (performance.now() - t) / 1000;
      await writeFileAtomic(file, `${JSON.stringify(result)}\n`);
      record(result, `${result.seconds.total.toFixed(1)} s, `);
    } catch (e) {
      if (e instanceof UnitBusyError) return 'busy';
      // Endpoint-side refusals (e.g. HTTP 422: no samples pass the selection threshold)
      // fail this row of this repeat only; it is not cached, so a re-run tries again.
      if (!(e instanceof EndpointError)) throw e;
      log(`  repeat ${r + 1} ${row.id}: FAILED: ${e.message}`);
      failures.push({ row: row.id, repeat: r, seed, error: e.message });
    } finally {
      await claim.release();
    }
    return 'done';
  };

  let pending = seeds.flatMap((_, r) => rows.map((row) => ({ r, row })));
  while (pending.length > 0) {
    const busy: typeof pending = [];
    for (const t of pending) if ((await runTask(t.r, t.row)) === 'busy') busy.push(t);
    if (busy.length > 0 && busy.length === pending.length) {
      log(`  waiting for ${busy.length} unit(s) that another process is computing...`);
      await new Promise((res) => setTimeout(res, opts.pollMs ?? 15_000));
    }
    pending = busy;
  }
  const runs = seeds.flatMap((_, r) =>
    rows.flatMap((row) => {
      const run = done.get(`${r}/${row.id}`);
      return run ? [run] : [];
    }),
  );
  const sideClaims =
    opts.repeats > 0 ? await measureArchitectureClaims(config, test, data.classIds.length) : {};
  const out: ExperimentResult = {
    config,
    configHash: hash,
    trainingHash: trainHash,
    repeats: opts.repeats,
    baseSeed: opts.seed,
    seeds,
    runtime,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      backend: tf.getBackend(),
      nativeKernels: nativeKernelsActive() ? nativeInfo() : null,
    },
    rows: rows.map((row) => {
      const accuracies = runs.filter((x) => x.row === row.id).map((x) => x.accuracy);
      return { id: row.id, label: row.label, paper: row.paper, accuracies, ...meanStd(accuracies) };
    }),
    sideClaims: {
      ...sideClaims,
      /** Ensemble / merged inference time of the trained networks, over the generative runs. */
      trainedEnsembleOverMerged: meanStd(
        runs
          .filter((x) => x.seconds.mergedInference !== undefined)
          .map((x) => x.seconds.ensembleInference! / x.seconds.mergedInference!),
      ),
    },
    runs,
    failures,
    missing,
    seconds: (performance.now() - t0) / 1000,
    dir: root,
  };
  await writeFileAtomic(join(root, 'results.json'), `${JSON.stringify(out, null, 2)}\n`);
  await writeFileAtomic(join(root, 'results.md'), `${resultsMarkdown(out)}\n`);
  return out;
}

/** The training options of one network of one repeat, with progress lines. */
function trainingOptions(
  config: ExperimentConfig,
  data: DatasetPair,
  id: string,
  classes: number[],
  variant: Variant,
  seed: number,
  log: (line: string) => void,
  verbose = false,
): TrainNetworkOptions {
  let lastBatchLog = performance.now();
  return {
    networkId: id,
    classes,
    data,
    variant,
    architecture: config.train.architecture,
    latentSize: config.train.latentSize,
    epochs: config.train.epochs,
    vaeEpochs: config.train.vaeEpochs,
    batchSize: config.train.batchSize,
    learningRate: config.train.learningRate,
    maxTrainSamples: config.train.maxTrainSamples,
    seed,
    onEvent: (e) => {
      if (e.kind === 'epoch-end') {
        log(
          `    ${e.network} ${e.stage} epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)}${e.accuracy === undefined ? '' : ` acc ${e.accuracy.toFixed(3)}`} (${e.imagesPerSecond.toFixed(0)} img/s)`,
        );
      } else if (e.kind === 'batch' && verbose && performance.now() - lastBatchLog > 10_000) {
        lastBatchLog = performance.now();
        log(
          `    ${e.network} ${e.stage} epoch ${e.epoch} batch ${e.batch}/${e.batchesPerEpoch} loss ${e.loss.toFixed(4)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
        );
      }
    },
  };
}

/**
 * The network's trained classifier (stage 1), a unit of its own under `dir`: loaded when
 * cached, else trained (under a claim) and saved. The caller owns the returned model.
 */
async function classifierUnit(
  dir: string,
  netsDir: string,
  unit: TrainNetworkOptions,
  log: (line: string) => void,
): Promise<tfl.LayersModel> {
  const cached = async () =>
    (await pathExists(join(dir, 'model.json')))
      ? loadModelFolder(folderReader(dir))
      : exportedClassifier(netsDir, unit.networkId);
  const first = await cached();
  if (first) return first;
  const claim = await claimUnit(dir);
  if (!claim) throw new UnitBusyError(dir);
  try {
    const again = await cached();
    if (again) return again;
    const t = performance.now();
    log(`  training ${unit.networkId}'s classifier (classes ${unit.classes.join(',')})...`);
    const model = await trainNetworkClassifier(unit);
    await writeFolderAtomic(dir, await serializeModel(model));
    log(
      `  trained ${unit.networkId}'s classifier in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    return model;
  } finally {
    await claim.release();
  }
}

const SEPARATE_PERCEPTUAL: Variant = {
  architecture: 'separate',
  loss: 'perceptual',
  reconstruction: 'bce',
};

interface RowContext {
  config: ExperimentConfig;
  data: DatasetPair;
  test: Dataset;
  partition: number[][];
  seed: number;
  repeat: number;
  runtime: EndpointRuntime;
  netDirs: (v: Variant) => Promise<string[]>;
  log: (line: string) => void;
}

async function loadAll(dirs: readonly string[]): Promise<LoadedNetwork[]> {
  const nets: LoadedNetwork[] = [];
  for (const d of dirs) nets.push(await loadNetwork(folderReader(d)));
  return nets;
}

function disposeAll(nets: readonly LoadedNetwork[]) {
  for (const n of nets) {
    n.classifier.dispose();
    n.decoder.dispose();
  }
}

async function runRow(row: RowSpec, ctx: RowContext): Promise<RowRun> {
  const base = { row: row.id, repeat: ctx.repeat, seed: ctx.seed, partition: ctx.partition };
  if (row.kind === 'ensemble') {
    const nets = await loadAll(await ctx.netDirs(SEPARATE_PERCEPTUAL));
    try {
      const members: EnsembleMember[] = nets.map((n) => ({
        model: n.classifier,
        classes: n.manifest.classes,
      }));
      const e = await evaluate(ensemblePredictor(members), ctx.test);
      return { ...base, ...summarise(e), seconds: { inference: e.seconds } };
    } finally {
      disposeAll(nets);
    }
  }
  if (row.kind === 'joint') return jointRow(base, ctx);
  const variant = row.variant!;
  const dirs = await ctx.netDirs(variant);
  const threshold = row.selection ? ctx.config.share.selectionThreshold : 0;
  const targetDir = dirs.at(-1)!;
  const res = await withFleet(dirs, { runtime: ctx.runtime }, async (fleet) => {
    ctx.log(
      `  ${row.id}: ${fleet.members.length} endpoints up (${ctx.runtime}), fetching packets...`,
    );
    let lastLog = 0;
    return runClient({
      endpoints: fleet.members.map((m) => ({ url: m.url })),
      targetDir,
      samplesPerClass: ctx.config.share.samplesPerClass,
      threshold,
      seed: deriveSeed(ctx.seed, row.id),
      chunkSize: ctx.config.share.chunkSize,
      concurrency: ctx.config.share.concurrency,
      generator: ctx.config.share.generator,
      balanceClasses: ctx.config.share.balance,
      schedule: ctx.config.finetune,
      test: ctx.test,
      onEvent: (e) => {
        const now = performance.now();
        if (e.kind === 'download' && now - lastLog > 5000) {
          lastLog = now;
          ctx.log(`    ${e.endpoint}: ${e.kept}/${e.wanted} samples`);
        } else if (e.kind === 'epoch') {
          ctx.log(
            `    fine-tune epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
          );
        } else if (e.kind === 'retry') {
          ctx.log(`    retry ${e.attempt}: ${e.message}`);
        }
      },
    });
  });
  try {
    // inference time of the merged network vs the ensemble of the same networks
    const nets = await loadAll(dirs);
    let ensembleSeconds: number;
    let mergedSeconds: number;
    try {
      const ens = ensemblePredictor(
        nets.map((n) => ({ model: n.classifier, classes: n.manifest.classes })),
      );
      await evaluate(ens, limitTest(ctx.test, 500)); // warm-up
      ensembleSeconds = (await evaluate(ens, ctx.test)).seconds;
      mergedSeconds = (await evaluate(modelPredictor(res.model, res.classes), ctx.test)).seconds;
    } finally {
      disposeAll(nets);
    }
    return {
      ...base,
      target: res.targetId,
      ...summarise(res.merged!),
      seconds: {
        fetch: res.seconds.fetch,
        finetune: res.seconds.finetune,
        mergedInference: mergedSeconds,
        ensembleInference: ensembleSeconds,
      },
      detail: {
        threshold,
        sources: res.sources,
        targetAloneAccuracy: res.target?.accuracy,
        finetuneLoss: res.history.map((h) => h.loss),
      },
    };
  } finally {
    res.model.dispose();
  }
}

async function jointRow(
  base: Pick<RowRun, 'row' | 'repeat' | 'seed' | 'partition'>,
  ctx: RowContext,
): Promise<RowRun> {
  const { config } = ctx;
  const classes = ctx.data.classIds;
  // the same training images the networks saw, together
  let train = selectClasses(ctx.data.train, classes);
  const cap = config.train.maxTrainSamples;
  if (cap !== undefined) {
    const parts = ctx.partition.map((p) => selectClasses(ctx.data.train, p));
    const px = train.imageShape[0] * train.imageShape[1] * train.imageShape[2];
    const take = parts.map((p) => Math.min(cap, p.count));
    const n = take.reduce((a, b) => a + b, 0);
    const images = new Uint8Array(n * px);
    const labels = new Uint8Array(n);
    let o = 0;
    parts.forEach((p, i) => {
      const k = take[i]!;
      // a seeded stride keeps the subsample spread over the class's images
      const step = p.count / k;
      for (let j = 0; j < k; j++) {
        const src = Math.floor(j * step);
        images.set(p.images.subarray(src * px, (src + 1) * px), o * px);
        labels[o++] = p.labels[src]!;
      }
    });
    train = { ...train, images, labels, count: n };
  }
  const { model } = buildClassifier({
    imageShape: train.imageShape,
    numClasses: classes.length,
    filters: config.train.architecture.classifierFilters,
    denseUnits: config.train.architecture.denseUnits,
    seed: deriveSeed(ctx.seed, 'joint-init') % 1_000_000,
  });
  try {
    const t = performance.now();
    ctx.log(`  joint: training one classifier on ${train.count} images of all classes...`);
    await trainClassifier(model, train, {
      network: 'joint',
      classes,
      epochs: config.train.epochs,
      batchSize: config.train.batchSize,
      learningRate: config.train.learningRate,
      seed: deriveSeed(ctx.seed, 'joint-train'),
    });
    const trainSeconds = (performance.now() - t) / 1000;
    const e = await evaluate(modelPredictor(model, classes), ctx.test);
    return { ...base, ...summarise(e), seconds: { train: trainSeconds, inference: e.seconds } };
  } finally {
    model.dispose();
  }
}

/**
 * The paper's side claims for a config's architecture, measured without training (neither
 * parameter counts nor inference time depend on the weights' values):
 *  - memory: parameters of classifier + VAE (encoder + decoder) vs the classifier alone, for
 *    the separate architecture and for the combined one (whose encoder reuses the
 *    classifier's convs), and for what an endpoint actually serves (classifier + decoder);
 *  - inference: an ensemble of `networks` classifiers (each over its share of the classes)
 *    vs one merged classifier over all classes, timed on the same test images (median of 3).
 */
export async function measureArchitectureClaims(
  config: ExperimentConfig,
  test: Dataset,
  numClasses = 10,
): Promise<Record<string, unknown>> {
  const imageShape = test.imageShape;
  const arch = config.train.architecture;
  const per = Math.ceil(numClasses / config.networks);
  const classifier = buildClassifier({
    imageShape,
    numClasses: per,
    filters: arch.classifierFilters,
    denseUnits: arch.denseUnits,
    seed: 1,
  });
  const classifierParams = classifier.model.countParams();
  const encoder = buildEncoder({
    imageShape,
    latentSize: config.train.latentSize,
    filters: arch.encoderFilters,
    seed: 1,
  });
  const encoderParams = encoder.countParams();
  encoder.dispose();
  const convParams = classifier.convLayers.reduce((a, l) => a + l.countParams(), 0);
  const shared = buildEncoder({
    imageShape,
    latentSize: config.train.latentSize,
    sharedConvLayers: classifier.convLayers,
    seed: 1,
  });
  const combinedEncoderHeadParams = shared.countParams() - convParams;
  const decoder = buildDecoder({
    imageShape,
    latentSize: config.train.latentSize,
    filters: arch.decoderFilters,
    upsampling: arch.upsampling,
    seed: 1,
  });
  const decoderParams = decoder.countParams();
  decoder.dispose();
  classifier.model.dispose();
  // inference: N members vs one merged classifier
  const members = Array.from({ length: config.networks }, (_, i) => {
    const classes = Array.from({ length: per }, (_, j) => i * per + j).filter(
      (c) => c < numClasses,
    );
    return {
      model: buildClassifier({
        imageShape,
        numClasses: classes.length,
        filters: arch.classifierFilters,
        denseUnits: arch.denseUnits,
        seed: i + 2,
      }).model,
      classes,
    };
  });
  const all = Array.from({ length: numClasses }, (_, c) => c);
  const merged = buildClassifier({
    imageShape,
    numClasses,
    filters: arch.classifierFilters,
    denseUnits: arch.denseUnits,
    seed: 9,
  }).model;
  const ens = ensemblePredictor(members);
  const one = modelPredictor(merged, all);
  await evaluate(ens, limitTest(test, 500));
  await evaluate(one, limitTest(test, 500));
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ensembleTimes: number[] = [];
  const mergedTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    ensembleTimes.push((await evaluate(ens, test)).seconds);
    mergedTimes.push((await evaluate(one, test)).seconds);
  }
  for (const m of members) m.model.dispose();
  merged.dispose();
  const e = median(ensembleTimes);
  const m = median(mergedTimes);
  return {
    architecture: arch,
    memory: {
      classifierParams,
      encoderParams,
      decoderParams,
      combinedEncoderHeadParams,
      separateRatio: (classifierParams + encoderParams + decoderParams) / classifierParams,
      combinedRatio:
        (classifierParams + combinedEncoderHeadParams + decoderParams) / classifierParams,
      servedRatio: (classifierParams + decoderParams) / classifierParams,
    },
    inference: {
      testImages: test.count,
      networks: config.networks,
      ensembleSeconds: e,
      mergedSeconds: m,
      ensembleOverMerged: e / m,
      backend: tf.getBackend(),
      nativeKernels: nativeKernelsActive() ? nativeInfo() : null,
    },
  };
}

export function resultsMarkdown(r: ExperimentResult): string {
  const table = markdownTable(
    ['approach', 'ours (mean ± std)', 'runs', 'per repeat', 'paper (10 runs)'],
    r.rows.map((row) => [
      row.label,
      fmt(row),
      String(row.n),
      r.seeds
        .map((_, i) => {
          const run = r.runs.find((x) => x.row === row.id && x.repeat === i);
          return run ? run.accuracy.toFixed(4) : '–';
        })
        .join(' '),
      `${row.paper.mean.toFixed(3)} ± ${row.paper.std.toFixed(3)}`,
    ]),
  );
  const m = r.machine;
  return [
    `## Results: config \`${r.config.name}\` (${r.configHash}), ${r.repeats} repeat(s)`,
    '',
    table,
    '',
    `Selection threshold ${r.config.share.selectionThreshold}; fine-tuning ${JSON.stringify(r.config.finetune)}. ` +
      `Seeds: ${r.seeds.join(', ')} (base seed ${r.baseSeed}). Endpoints: ${r.runtime}. ` +
      `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, tfjs backend ${m.backend}` +
      `${m.nativeKernels ? ` + native kernels (${m.nativeKernels.blas}, ${m.nativeKernels.threads} threads)` : ''}. ` +
      `Wall time ${(r.seconds / 60).toFixed(1)} min (cached units count as 0).`,
    ...r.failures.map(
      (f) => `\nFailed: ${f.row}, repeat ${f.repeat + 1} (seed ${f.seed}): ${f.error}`,
    ),
    ...(r.missing.length > 0
      ? [
          '',
          `Not computed yet (${r.missing.length} of ${r.repeats * r.rows.length} units): ` +
            r.rows
              .map((row) => [row.id, r.missing.filter((u) => u.row === row.id)] as const)
              .filter(([, units]) => units.length > 0)
              .map(([id, units]) => `${id} repeat ${units.map((u) => u.repeat + 1).join(', ')}`)
              .join('; ') +
            '.',
        ]
      : []),
  ].join('\n');
}
