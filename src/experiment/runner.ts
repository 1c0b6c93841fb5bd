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
import { type LoadedNetwork, loadNetwork } from '../core/model-folder';
import { buildClassifier, buildDecoder, buildEncoder, disposeModels } from '../core/models';
import { deriveSeed } from '../core/rng';
import { type Dataset, type DatasetPair, loadDataset } from '../data/idx';
import { networkIds, randomPartition, selectClasses } from '../data/partition';
import { folderReader, pathExists, writeFileAtomic } from '../node/fs-atomic';
import { nativeInfo, nativeKernelsActive } from '../node/native-kernels';
import { trainClassifier } from '../train/classifier';
import { trainAndExport } from '../train/train-network';
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
  seconds: number;
  dir: string;
}

/**
 * A classifier already trained for this repeat and network under another variant: stage 1
 * (classifier training) does not depend on the variant, so it is trained once and reused.
 */
async function trainedClassifier(
  netsDir: string,
  id: string,
): Promise<tfl.LayersModel | undefined> {
  const variants = await readdir(netsDir).catch(() => [] as string[]);
  for (const v of variants.sort()) {
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

export async function configHash(config: ExperimentConfig): Promise<string> {
  return (await sha256Hex(new TextEncoder().encode(JSON.stringify(config)))).slice(0, 12);
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
 * The paper's table over N repeats. Every finished unit (a trained network folder, a row's
 * result) is cached under `<runsDir>/<config>-<hash>/r<repeat>-s<seed>/`, so a killed run
 * picks up where it stopped. Packets travel over HTTP through local endpoints.
 */
export async function runExperiment(opts: RunExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const { config } = opts;
  const runtime = opts.runtime ?? 'node';
  const hash = await configHash(config);
  const root = resolve(opts.runsDir ?? 'runs', `${config.name}-${hash}`);
  await writeFileAtomic(join(root, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const rows = ROWS.filter((r) => !opts.rows || opts.rows.includes(r.id));
  log(
    `experiment ${config.name} (${hash}): ${opts.repeats} repeat(s), rows ${rows.map((r) => r.id).join(', ')}`,
  );
  log(`cache: ${root}`);
  const data = await loadDataset(config.dataDir === undefined ? {} : { dataDir: config.dataDir });
  const test = limitTest(data.test, config.testLimit);
  const seeds = Array.from({ length: opts.repeats }, (_, r) =>
    deriveSeed(opts.seed, `repeat-${r}`),
  );
  const runs: RowRun[] = [];
  const failures: ExperimentResult['failures'] = [];
  let sideClaims: Record<string, unknown> = {};
  for (let r = 0; r < opts.repeats; r++) {
    const seed = seeds[r]!;
    const partition = randomPartition(data.classIds, config.networks, seed);
    const ids = networkIds(config.networks);
    const repDir = join(root, `r${r}-s${seed}`);
    log(
      `repeat ${r + 1}/${opts.repeats}: seed ${seed}, partition ${partition.map((p) => p.join(',')).join(' / ')}`,
    );
    const netDirs = async (variant: Variant): Promise<string[]> => {
      const dirs: string[] = [];
      for (const [i, id] of ids.entries()) {
        const dir = join(repDir, 'nets', variantKey(variant), id);
        dirs.push(dir);
        if (await pathExists(join(dir, 'manifest.json'))) continue;
        const t = performance.now();
        let lastBatchLog = t;
        const classifier = await trainedClassifier(join(repDir, 'nets'), id);
        log(
          `  training ${id} (${variantKey(variant)}, classes ${partition[i]!.join(',')}${classifier ? ', classifier reused' : ''})...`,
        );
        await trainAndExport(dir, {
          classifier,
          networkId: id,
          classes: partition[i]!,
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
            } else if (
              e.kind === 'batch' &&
              opts.verbose &&
              performance.now() - lastBatchLog > 10_000
            ) {
              lastBatchLog = performance.now();
              log(
                `    ${e.network} ${e.stage} epoch ${e.epoch} batch ${e.batch}/${e.batchesPerEpoch} loss ${e.loss.toFixed(4)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
              );
            }
          },
        });
        log(`  trained ${id} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
      return dirs;
    };
    for (const row of rows) {
      const file = join(repDir, 'rows', `${row.id}.json`);
      const cached = await readJson<RowRun>(file);
      if (cached) {
        log(`  ${row.id}: cached, accuracy ${cached.accuracy.toFixed(4)}`);
        runs.push(cached);
        continue;
      }
      const t = performance.now();
      let result: RowRun;
      try {
        result = await runRow(row, {
          config,
          data,
          test,
          partition,
          seed,
          repeat: r,
          runtime,
          netDirs,
          log,
        });
      } catch (e) {
        // Endpoint-side refusals (e.g. HTTP 422: no samples pass the selection threshold)
        // fail this row of this repeat only; it is not cached, so a re-run tries again.
        if (!(e instanceof EndpointError)) throw e;
        log(`  ${row.id}: FAILED: ${e.message}`);
        failures.push({ row: row.id, repeat: r, seed, error: e.message });
        continue;
      }
      result.seconds.total = (performance.now() - t) / 1000;
      await writeFileAtomic(file, `${JSON.stringify(result)}\n`);
      log(
        `  ${row.id}: accuracy ${result.accuracy.toFixed(4)} (${result.seconds.total.toFixed(1)} s)`,
      );
      runs.push(result);
    }
    if (r === 0) sideClaims = await measureArchitectureClaims(config, test, data.classIds.length);
  }
  const out: ExperimentResult = {
    config,
    configHash: hash,
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
    seconds: (performance.now() - t0) / 1000,
    dir: root,
  };
  await writeFileAtomic(join(root, 'results.json'), `${JSON.stringify(out, null, 2)}\n`);
  await writeFileAtomic(join(root, 'results.md'), `${resultsMarkdown(out)}\n`);
  return out;
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
    ['approach', 'ours (mean ± std)', 'runs', 'paper (10 runs)'],
    r.rows.map((row) => [
      row.label,
      fmt(row),
      String(row.n),
      `${row.paper.mean.toFixed(3)} ± ${row.paper.std.toFixed(3)}`,
    ]),
  );
  const m = r.machine;
  return [
    `## Results: config \`${r.config.name}\` (${r.configHash}), ${r.repeats} repeat(s)`,
    '',
    table,
    '',
    `Seeds: ${r.seeds.join(', ')} (base seed ${r.baseSeed}). Endpoints: ${r.runtime}. ` +
      `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, tfjs backend ${m.backend}` +
      `${m.nativeKernels ? ` + native kernels (${m.nativeKernels.blas}, ${m.nativeKernels.threads} threads)` : ''}. ` +
      `Wall time ${(r.seconds / 60).toFixed(1)} min (cached units count as 0).`,
    ...r.failures.map(
      (f) => `\nFailed: ${f.row}, repeat ${f.repeat + 1} (seed ${f.seed}): ${f.error}`,
    ),
  ].join('\n');
}
