import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ClientEvent,
  EndpointError,
  type Evaluation,
  ensemblePredictor,
  evaluate,
  modelPredictor,
  type RunClientResult,
  runClient,
} from '../client';
import { type LoadedNetwork, loadNetwork } from '../core/model-folder';
import { type Dataset, loadDataset } from '../data/idx';
import { networkIds, randomPartition } from '../data/partition';
import { folderReader, writeFileAtomic } from '../node/fs-atomic';
import { trainAndExport } from '../train/train-network';
import type { EndpointRuntime } from '../worker-host/local-endpoint';
import { QUICK } from './config';
import { type Fleet, startFleet } from './fleet';
import { textTable } from './stats';

export interface DemoOptions {
  /** Folder holding one model folder per network (default: models). */
  modelsDir?: string;
  /** Which networks (folder names); default: every folder with a manifest.json, sorted. */
  networks?: readonly string[];
  /** The network that learns from the others; default: the last one. */
  target?: string;
  runtime?: EndpointRuntime;
  /** PNG grids, the merged network and a summary JSON go here (default runs/start). */
  outDir?: string;
  samplesPerClass?: number;
  threshold?: number;
  epochs?: number;
  seed?: number;
  dataDir?: string;
  /** With fewer than 2 networks in modelsDir, train two small ones under outDir (default true). */
  trainIfMissing?: boolean;
  log?: (line: string) => void;
  onEvent?: (e: ClientEvent) => void;
}

/**
 * Two small networks (the quick config's architecture and budget; classifier inside the VAE
 * with reconstruction + perceptual loss, the best row of the quick table at this scale) on a
 * seeded random 5/5 split of MNIST: the demo's fallback when models/
 * holds no networks. Folders that already exist are kept.
 */
export async function trainDemoNetworks(
  dir: string,
  opts: { seed: number; dataDir?: string; log?: (line: string) => void },
): Promise<string[]> {
  const data = await loadDataset(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
  const partition = randomPartition(data.classIds, 2, opts.seed);
  const ids = networkIds(2);
  const out: string[] = [];
  for (const [i, id] of ids.entries()) {
    const d = join(dir, id);
    out.push(d);
    if ((await discoverNetworks(dir)).includes(id)) continue;
    const t = performance.now();
    opts.log?.(`  training ${id} on classes ${partition[i]!.join(',')}...`);
    await trainAndExport(d, {
      networkId: id,
      classes: partition[i]!,
      data,
      variant: { architecture: 'combined', loss: 'both', reconstruction: 'bce' },
      architecture: QUICK.train.architecture,
      latentSize: QUICK.train.latentSize,
      epochs: QUICK.train.epochs,
      vaeEpochs: QUICK.train.vaeEpochs,
      batchSize: QUICK.train.batchSize,
      learningRate: QUICK.train.learningRate,
      maxTrainSamples: QUICK.train.maxTrainSamples,
      seed: opts.seed,
    });
    opts.log?.(`  trained ${id} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  return out;
}

export interface DemoRow {
  name: string;
  classes: number[];
  accuracy: number;
  perClass: Evaluation['perClass'];
  seconds: number;
}

export interface DemoResult {
  rows: DemoRow[];
  previews: string[];
  mergedDir: string;
  table: string;
  /** Fallbacks taken (workerd -> node, threshold -> 0), to print under the table. */
  notes: string[];
  seconds: { total: number; fetch: number; finetune: number };
}

export async function discoverNetworks(modelsDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(modelsDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    names = [];
  }
  const out: string[] = [];
  for (const n of names.sort()) {
    try {
      await readdir(join(modelsDir, n)).then((f) => {
        if (f.includes('manifest.json')) out.push(n);
      });
    } catch {}
  }
  return out;
}

/**
 * The end-to-end demo behind `npm start`: one local endpoint per network, the client fetches
 * packets from all of them (the target's own endpoint supplies its replay set), fine-tunes
 * the target, and everything is evaluated on the real test set: each network alone, the
 * ensemble, the merged network. Servers are stopped before it returns or throws.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const outDir = opts.outDir ?? join('runs', 'start');
  let modelsDir = opts.modelsDir ?? 'models';
  let names = opts.networks ?? (await discoverNetworks(modelsDir));
  if (names.length < 2 && opts.networks === undefined && opts.trainIfMissing !== false) {
    // No demo networks (e.g. models/ not populated): train two small ones first, once.
    const dir = join(outDir, 'models');
    log(
      `${modelsDir}: ${names.length} network(s) found; training two small demo networks in ${dir}`,
    );
    await trainDemoNetworks(dir, {
      seed: opts.seed ?? 1,
      log,
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    });
    modelsDir = dir;
    names = await discoverNetworks(dir);
  }
  if (names.length < 2) {
    throw new Error(
      `${modelsDir}: found ${names.length} network folder(s) with a manifest.json; the demo needs at least 2 (train them with npm run train)`,
    );
  }
  const target = opts.target ?? names.at(-1)!;
  if (!names.includes(target)) throw new Error(`target ${target} is not among ${names.join(', ')}`);
  const dirs = names.map((n) => join(modelsDir, n));
  const runtime = opts.runtime ?? 'workerd';
  const threshold = opts.threshold ?? 0.9;
  const seed = opts.seed ?? 1;
  const data = await loadDataset(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
  const test: Dataset = data.test;
  const mergedDir = join(outDir, `${target}-merged`);
  const notes: string[] = [];
  const withDemoFleet = async <T>(fn: (fleet: Fleet) => Promise<T>): Promise<T> => {
    log(`starting ${names.length} ${runtime} endpoints: ${names.join(', ')}`);
    let fleet: Fleet;
    try {
      fleet = await startFleet(dirs, { runtime });
    } catch (e) {
      if (runtime !== 'workerd') throw e;
      // workerd could not start here (e.g. wrangler's runtime missing): say so, use Node.
      const note = `workerd endpoints did not start (${(e as Error).message.split('\n')[0]}); used the Node runtime instead`;
      notes.push(note);
      log(note);
      fleet = await startFleet(dirs, { runtime: 'node' });
    }
    try {
      return await fn(fleet);
    } finally {
      await fleet.stop();
    }
  };
  const { result, previews } = await withDemoFleet(async (fleet) => {
    for (const m of fleet.members) log(`  ${m.networkId} at ${m.url}`);
    const previews: string[] = [];
    let t = threshold;
    for (const m of fleet.members) {
      let res = await fetch(`${m.url}/v1/preview.png?count=64&seed=${seed}&threshold=${t}`);
      if (res.status === 422 && t > 0) {
        // a weak generator cannot fill the preview at this threshold
        res = await fetch(`${m.url}/v1/preview.png?count=64&seed=${seed}&threshold=0`);
      }
      if (!res.ok) throw new Error(`${m.url}: preview.png answered ${res.status}`);
      const file = join(outDir, `shared-${m.networkId}.png`);
      await writeFileAtomic(file, new Uint8Array(await res.arrayBuffer()));
      previews.push(file);
    }
    log(`wrote ${previews.join(', ')}`);
    const run = (th: number) =>
      runClient({
        endpoints: fleet.members.map((m) => ({ url: m.url })),
        targetDir: join(modelsDir, target),
        outDir: mergedDir,
        samplesPerClass: opts.samplesPerClass ?? 600,
        threshold: th,
        seed,
        chunkSize: 250,
        concurrency: 2,
        schedule: { epochs: opts.epochs ?? 3 },
        test,
        ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      });
    let result: RunClientResult;
    try {
      result = await run(t);
    } catch (e) {
      // HTTP 422: too few generated samples pass the threshold within the endpoint's budget
      if (!(e instanceof EndpointError && e.status === 422 && t > 0)) throw e;
      const note = `threshold ${t} asks too much of a generator (${e.endpoint} answered 422); used threshold 0`;
      notes.push(note);
      log(note);
      t = 0;
      result = await run(t);
    }
    return { result, previews };
  });
  log('endpoints stopped; evaluating on the test set');
  const nets: LoadedNetwork[] = [];
  const rows: DemoRow[] = [];
  try {
    for (const d of dirs) nets.push(await loadNetwork(folderReader(d)));
    for (const n of nets) {
      const e = await evaluate(modelPredictor(n.classifier, n.manifest.classes), test);
      rows.push(row(`${n.manifest.networkId} alone`, n.manifest.classes, e));
    }
    const ens = ensemblePredictor(
      nets.map((n) => ({ model: n.classifier, classes: n.manifest.classes })),
    );
    rows.push(row(`ensemble of ${nets.length}`, ens.classes, await evaluate(ens, test)));
    const merged = await evaluate(modelPredictor(result.model, result.classes), test);
    rows.push(row(`${target} merged (one network)`, result.classes, merged));
  } finally {
    for (const n of nets) {
      n.classifier.dispose();
      n.decoder.dispose();
    }
    result.model.dispose();
  }
  const table = textTable(
    ['network', 'classes', `accuracy (${test.count} test images)`, 'inference s'],
    rows.map((r) => [r.name, r.classes.join(','), r.accuracy.toFixed(4), r.seconds.toFixed(2)]),
  );
  const out: DemoResult = {
    rows,
    previews,
    mergedDir,
    table,
    notes,
    seconds: {
      total: (performance.now() - t0) / 1000,
      fetch: result.seconds.fetch,
      finetune: result.seconds.finetune,
    },
  };
  await writeFileAtomic(
    join(outDir, 'summary.json'),
    `${JSON.stringify({ ...out, table: undefined }, null, 2)}\n`,
  );
  return out;
}

function row(name: string, classes: readonly number[], e: Evaluation): DemoRow {
  return {
    name,
    classes: [...classes],
    accuracy: e.accuracy,
    perClass: e.perClass,
    seconds: e.seconds,
  };
}
