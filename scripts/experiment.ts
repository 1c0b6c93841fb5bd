import { z } from 'zod';
import { initClientBackend } from '../src/client';
import { loadDataset } from '../src/data/idx';
import { CONFIGS, ROWS, type RowId } from '../src/experiment/config';
import {
  measureArchitectureClaims,
  resultsMarkdown,
  runExperiment,
} from '../src/experiment/runner';
import { fmt } from '../src/experiment/stats';
import { parseCli, runMain } from '../src/node/cli';

const HELP = `npm run experiment -- [--config quick|paper] [options]

Reproduce the paper's table: ensemble; classifier-in-VAE with reconstruction, perceptual and
both losses; separate classifier + perceptual; + selection of best samples; joint training.
Packets travel over HTTP through local endpoints. Every finished unit is cached (trained
networks and baseline rows under runs/train-<hash>/, keyed by the training settings only;
generative rows under runs/<config>-<hash>/), so a killed run resumes and a change to the
sharing or fine-tuning settings reuses the trained networks. Several processes may run the
same command on one runs folder at once: each claims the unit it works on, and the others
move on (two processes with --native-threads 1 use 2 cores better than one with 2). Writes
results.json and results.md under runs/<config>-<hash>/ and prints a JSON summary as its
last line.

  --config NAME     quick (minutes) | paper (20 epochs, 5000/class, 50k merged)  default: quick
  --repeats N       independent repeats (seeded partitions and inits)  default: 1 (quick), 5 (paper)
  --seed N          base seed                                          default: 1
  --rows LIST       comma-separated row ids (default: all): ${ROWS.map((r) => r.id).join(', ')}
  --runs-dir DIR    cache and results root                             default: runs
  --runtime R       node | workerd (local endpoints)                   default: node
  --threads N       wasm threads for training in this process          default: 1
  --native-threads N  threads of the optional OpenBLAS kernels           default: all cores
  --networks-only   train the networks the rows need and run the baseline rows (ensemble,
                    joint) only; a later run without it does the generative rows
  --cached-only     compute nothing: write the table of the units already cached and list
                    the missing ones (the state of a run other processes are computing)
  --verbose         also print training batches (every 10 s)
  --side-claims     only measure the paper's side claims for the config's architecture
                    (memory of classifier + VAE vs classifier; ensemble vs merged
                    inference time on the test set), print them as JSON and exit`;

const Schema = z
  .object({
    config: z.enum(['quick', 'paper']).default('quick'),
    repeats: z.coerce.number().int().positive().optional(),
    seed: z.coerce.number().int().nonnegative().default(1),
    rows: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()))
      .pipe(z.array(z.enum(ROWS.map((r) => r.id) as [RowId, ...RowId[]])))
      .optional(),
    runsDir: z.string().default('runs'),
    runtime: z.enum(['node', 'workerd']).default('node'),
    threads: z.coerce.number().int().positive().default(1),
    nativeThreads: z.coerce.number().int().positive().optional(),
    networksOnly: z.boolean().default(false),
    cachedOnly: z.boolean().default(false),
    verbose: z.boolean().default(false),
    sideClaims: z.boolean().default(false),
  })
  .refine((f) => !(f.networksOnly && f.cachedOnly), {
    message: '--networks-only computes units and --cached-only computes none: pass one of them',
  });

runMain(async () => {
  const o = parseCli(
    process.argv.slice(2),
    {
      config: { type: 'string' },
      repeats: { type: 'string' },
      seed: { type: 'string' },
      rows: { type: 'string' },
      'runs-dir': { type: 'string' },
      runtime: { type: 'string' },
      threads: { type: 'string' },
      'native-threads': { type: 'string' },
      'networks-only': { type: 'boolean' },
      'cached-only': { type: 'boolean' },
      verbose: { type: 'boolean' },
      'side-claims': { type: 'boolean' },
    },
    Schema,
    HELP,
  );
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  process.env.WRANGLER_SEND_METRICS = 'false';
  await initClientBackend('wasm', {
    threads: o.threads,
    ...(o.nativeThreads === undefined ? {} : { nativeThreads: o.nativeThreads }),
  });
  const config = CONFIGS[o.config];
  if (o.sideClaims) {
    const data = await loadDataset(config.dataDir === undefined ? {} : { dataDir: config.dataDir });
    const claims = await measureArchitectureClaims(config, data.test, data.classIds.length);
    process.stdout.write(
      `${JSON.stringify({ config: config.name, threads: o.threads, ...claims })}\n`,
    );
    return;
  }
  const result = await runExperiment({
    config,
    repeats: o.repeats ?? (o.config === 'paper' ? 5 : 1),
    seed: o.seed,
    runsDir: o.runsDir,
    runtime: o.runtime,
    ...(o.rows ? { rows: o.rows } : {}),
    verbose: o.verbose,
    networksOnly: o.networksOnly,
    cachedOnly: o.cachedOnly,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`\n${resultsMarkdown(result)}\n\nresults: ${result.dir}/results.json\n`);
  const summary = {
    config: config.name,
    configHash: result.configHash,
    repeats: result.repeats,
    seeds: result.seeds,
    seconds: Math.round(result.seconds),
    results: `${result.dir}/results.json`,
    failures: result.failures.length,
    missing: result.missing.length,
    rows: Object.fromEntries(
      result.rows.map((r) => [r.id, { mean: r.mean, std: r.std, n: r.n, text: fmt(r) }]),
    ),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
