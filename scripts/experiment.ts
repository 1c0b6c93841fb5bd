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
import { CliError, defineCli, flag, runMain, switchFlag } from '../src/node/cli';

const cli = defineCli({
  usage: 'npm run experiment -- [--config quick|fast|paper | --config-file FILE] [options]',
  about: `The paper's table (ensemble; classifier-in-VAE with reconstruction, perceptual and both
losses; separate classifier + perceptual; + selection of best samples; joint training),
plus, where the config asks for them, the fair ensemble (members calibrated on their own
validation slices) and one row per recipe (the client's best recipe and its ablations), on
any dataset and partition. Packets travel over HTTP through local endpoints. Every finished
unit is cached (classifiers and baseline rows under runs/classifiers-<hash>/, keyed by the
classifier's settings; networks under runs/train-<hash>/, keyed by the training settings;
generative rows under runs/<config>-<hash>/), so a killed run resumes.
Several processes may run the same command on one runs folder at once. Writes results.json
and results.md under runs/<config>-<hash>/ and prints a JSON summary as its last line.`,
  flags: {
    config: flag(z.enum(['quick', 'fast', 'paper']), {
      value: 'NAME',
      defaultHelp: 'quick',
      help: 'quick (minutes) | fast (~15 min, early stopping, best recipe) | paper (20 epochs)',
      section: 'Config',
    }),
    'config-file': flag(z.string(), {
      value: 'FILE',
      help: 'a JSON config (validated; see src/experiment/config.ts); replaces --config',
    }),
    'data-dir': flag(z.string(), {
      value: 'DIR',
      defaultHelp: 'MNIST',
      help: 'dataset folder: the four IDX files, or image folders\ntrain/<class>/*.png and test/<class>/*.png',
    }),
    partition: flag(z.string(), {
      value: 'SPEC',
      help: 'explicit networks, e.g. 0,1,2/3,4,5,6/7,8,9 (the same in every repeat)',
    }),
    networks: flag(z.coerce.number().int().min(2).max(10), {
      value: 'N',
      help: 'a seeded random split into N networks per repeat',
    }),
    target: flag(NetworkIdSchema, {
      value: 'ID',
      defaultHelp: 'the last',
      help: 'the network that is fine-tuned (net-a, net-b, ...)',
    }),
    repeats: flag(z.coerce.number().int().positive(), {
      value: 'N',
      defaultHelp: '1; 5 for paper',
      help: 'independent repeats (seeded partitions and inits)',
      section: 'Run',
    }),
    seed: flag(z.coerce.number().int().nonnegative(), {
      value: 'N',
      default: 1,
      help: 'base seed',
    }),
    rows: flag(
      z
        .string()
        .transform((s) => s.split(',').map((x) => x.trim()))
        .pipe(z.array(z.string().regex(/^[a-z0-9-]+$/, 'a row id'))),
      { value: 'LIST', defaultHelp: "all of the config's rows", help: 'comma-separated row ids' },
    ),
    'runs-dir': flag(z.string(), { value: 'DIR', default: 'runs', help: 'cache and results root' }),
    runtime: flag(z.enum(['node', 'workerd']), {
      value: 'R',
      default: 'node',
      help: 'node | workerd (local endpoints)',
    }),
    threads: flag(z.coerce.number().int().positive(), {
      value: 'N',
      default: 1,
      help: 'wasm threads for training in this process',
    }),
    'native-threads': flag(z.coerce.number().int().positive(), {
      value: 'N',
      defaultHelp: 'all cores',
      help: 'threads of the optional OpenBLAS kernels',
    }),
    'networks-only': switchFlag('train the networks the rows need and run the baseline rows only'),
    'cached-only': switchFlag(
      'compute nothing: the table of the units already cached, missing listed',
    ),
    verbose: switchFlag('also print training batches (every 10 s)'),
    'side-claims': switchFlag(
      "only measure the paper's side claims for the config's architecture\n(memory; ensemble vs merged inference time), print them as JSON, exit",
    ),
  },
  rules: (f, ctx) => {
    const rule = (bad: boolean, message: string) =>
      bad && ctx.addIssue({ code: 'custom', message });
    rule(
      f.networksOnly && f.cachedOnly,
      '--networks-only computes units and --cached-only computes none: pass one of them',
    );
    rule(
      f.config !== undefined && f.configFile !== undefined,
      '--config and --config-file both name a config: pass one of them',
    );
    rule(
      f.partition !== undefined && f.networks !== undefined,
      '--partition fixes the networks: leave out --networks',
    );
  },
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
  const o = cli.parse(process.argv.slice(2));
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
