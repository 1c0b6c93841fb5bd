import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { initClientBackend } from '../src/client';
import { NetworkIdSchema } from '../src/core/manifest';
import { loadDataset } from '../src/data/idx';
import { networkIds, parsePartition } from '../src/data/partition';
import {
  CONFIGS,
  type ExperimentConfig,
  ExperimentConfigSchema,
  rowsFor,
} from '../src/experiment/config';
import { resultsMarkdown } from '../src/experiment/report';
import { runExperiment } from '../src/experiment/runner';
import { measureArchitectureClaims } from '../src/experiment/side-claims';
import { fmt } from '../src/experiment/stats';
import { CliError, parseCli, runMain } from '../src/node/cli';

const HELP = `npm run experiment -- [--config quick|fast|paper | --config-file FILE] [options]

The paper's table (ensemble; classifier-in-VAE with reconstruction, perceptual and both
losses; separate classifier + perceptual; + selection of best samples; joint training),
plus, where the config asks for them, the fair ensemble (members calibrated on their own
validation slices) and one row per recipe (the client's best recipe and its ablations), on
any dataset and partition. Packets travel over HTTP through local endpoints. Every finished
unit is cached (networks and baseline rows under runs/train-<hash>/, keyed by the training
settings only; generative rows under runs/<config>-<hash>/), so a killed run resumes.
Several processes may run the same command on one runs folder at once. Writes results.json
and results.md under runs/<config>-<hash>/ and prints a JSON summary as its last line.

Config
  --config NAME       quick (minutes) | fast (~15 min, early stopping, best recipe)
                      | paper (20 epochs, 5000/class)                      default: quick
  --config-file FILE  a JSON config (validated; see src/experiment/config.ts); replaces --config
  --data-dir DIR      dataset folder: the four IDX files, or train/<class>/*.png and
                      test/<class>/*.png                                   default: MNIST
  --partition SPEC    explicit networks, e.g. 0,1,2/3,4,5,6/7,8,9 (the same in every repeat)
  --networks N        a seeded random split into N networks per repeat
  --target ID         the network that is fine-tuned (net-a, net-b, ...)  default: the last
Run
  --repeats N         independent repeats (seeded partitions and inits)  default: 1 (quick,
                      fast), 5 (paper)
  --seed N            base seed                                          default: 1
  --rows LIST         comma-separated row ids (default: all of the config's rows)
  --runs-dir DIR      cache and results root                             default: runs
  --runtime R         node | workerd (local endpoints)                   default: node
  --threads N         wasm threads for training in this process          default: 1
  --native-threads N  threads of the optional OpenBLAS kernels           default: all cores
  --networks-only     train the networks the rows need and run the baseline rows only
  --cached-only       compute nothing: the table of the units already cached, missing listed
  --verbose           also print training batches (every 10 s)
  --side-claims       only measure the paper's side claims for the config's architecture
                      (memory; ensemble vs merged inference time), print them as JSON, exit`;

const Schema = z
  .object({
    config: z.enum(['quick', 'fast', 'paper']).optional(),
    configFile: z.string().optional(),
    dataDir: z.string().optional(),
    partition: z.string().optional(),
    networks: z.coerce.number().int().min(2).max(10).optional(),
    target: NetworkIdSchema.optional(),
    repeats: z.coerce.number().int().positive().optional(),
    seed: z.coerce.number().int().nonnegative().default(1),
    rows: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()))
      .pipe(z.array(z.string().regex(/^[a-z0-9-]+$/, 'a row id')))
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
  })
  .refine((f) => !(f.config && f.configFile), {
    message: '--config and --config-file both name a config: pass one of them',
  })
  .refine((f) => !(f.partition && f.networks), {
    message: '--partition fixes the networks: leave out --networks',
  });

const MAX_CONFIG_FILE = 1 << 20;

/** The config file, parsed and validated: errors name the file and the field. */
async function readConfigFile(file: string): Promise<ExperimentConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(`--config-file ${file}: ${(e as Error).message}`);
  }
  if (text.length > MAX_CONFIG_FILE) throw new CliError(`--config-file ${file}: larger than 1 MiB`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError(`--config-file ${file}: not JSON (${(e as Error).message})`);
  }
  const parsed = ExperimentConfigSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new CliError(
      `--config-file ${file} is not a valid experiment config:\n${lines.join('\n')}`,
    );
  }
  return parsed.data;
}

runMain(async () => {
  const o = parseCli(
    process.argv.slice(2),
    {
      config: { type: 'string' },
      'config-file': { type: 'string' },
      'data-dir': { type: 'string' },
      partition: { type: 'string' },
      networks: { type: 'string' },
      target: { type: 'string' },
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
  const preset = o.configFile ? await readConfigFile(o.configFile) : CONFIGS[o.config ?? 'quick'];
  const partition = o.partition === undefined ? undefined : parsePartition(o.partition);
  const candidate = {
    ...preset,
    ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }),
    ...(partition ? { partition, networks: partition.length } : {}),
    ...(o.networks === undefined ? {} : { networks: o.networks, partition: undefined }),
    ...(o.target === undefined ? {} : { target: o.target }),
  };
  const checked = ExperimentConfigSchema.safeParse(candidate);
  if (!checked.success) {
    throw new CliError(
      `invalid options:\n${checked.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  const config = checked.data;
  const known = rowsFor(config).map((r) => r.id);
  const unknown = (o.rows ?? []).filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    throw new CliError(
      `--rows: ${unknown.join(', ')} not a row of config ${config.name}; its rows: ${known.join(', ')}`,
    );
  }
  if (config.target !== undefined && !networkIds(config.networks).includes(config.target)) {
    throw new CliError(
      `--target ${config.target} is not one of the networks ${networkIds(config.networks).join(', ')}`,
    );
  }
  await initClientBackend('wasm', {
    threads: o.threads,
    ...(o.nativeThreads === undefined ? {} : { nativeThreads: o.nativeThreads }),
  });
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
    repeats: o.repeats ?? (config.name === 'paper' ? 5 : 1),
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
    dataset: result.dataset,
    partitions: result.partitions,
    target: result.target,
    repeats: result.repeats,
    seeds: result.seeds,
    seconds: Math.round(result.seconds),
    results: `${result.dir}/results.json`,
    failures: result.failures.length,
    missing: result.missing.length,
    rows: Object.fromEntries(
      result.rows.map((r) => [
        r.id,
        {
          mean: r.mean,
          std: r.std,
          n: r.n,
          text: fmt(r),
          ...(r.validation ? { validation: r.validation.mean } : {}),
        },
      ]),
    ),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
