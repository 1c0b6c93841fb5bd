/**
 * npm run probe:transfer -- --probe KIND --nets DIR --data-dir DIR --seed N --target ID [options]
 *
 * Exploratory probes of the generated/real gap (docs/RESULTS.md, "Probes of the gap"): one
 * repeat's trained networks, the paper config's recipe (threshold 0.99, 5000 samples per
 * class, 3 epochs, conv1-2 frozen, 1-px shifts), with one change per variant, scored on the
 * networks' validation union and the test set. Packets are made locally by the endpoints'
 * sampler (the same bytes an endpoint would serve), not fetched over HTTP.
 *   blur         a Gaussian blur of sigma V on every image, trained on and scored
 *                (`sharpen-V`: an unsharp mask on the training images only)
 *   real-aligned the target's own real images in every batch, with a domain classifier on the
 *                dense features behind a gradient-reversal layer of weight V (0: none)
 *   typicality   keep a sample only when its owner's Mahalanobis score is at least the V-th
 *                quantile of the owner's own validation scores (the fair ensemble's score)
 *   relabel      soft targets (1 - V) x the sender's labels + V x the fair ensemble's
 *                (`disputed-V`: only where the ensemble's top class is another network's)
 *   refine       5 gradient steps of size V on each sample towards its top class under its
 *                sender's classifier (log-probability, normalised gradient), relabelled after
 *   self-train   round 1 cross-labels at 0.5 and fine-tunes; round 2 mixes the round-1
 *                network's answers into the targets at weight V and fine-tunes the target again
 *   image-stats  brightness, ink and sharpness of each network's samples against real test
 *                images of the same class (no fine-tuning; give --values none)
 * The probes live in src/experiment/probes/.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { initClientBackend } from '../src/client';
import type { SoftSet } from '../src/client/merge';
import { NetworkIdSchema } from '../src/core/manifest';
import { type LoadedNetwork, loadNetwork } from '../src/core/model-folder';
import { loadDataset } from '../src/data/idx';
import { networkIds } from '../src/data/partition';
import { concatDatasets } from '../src/data/subsample';
import { blurProbe } from '../src/experiment/probes/blur';
import { imageStatsProbe } from '../src/experiment/probes/image-stats';
import { realAlignedProbe } from '../src/experiment/probes/real-aligned';
import { refineProbe } from '../src/experiment/probes/refine';
import { relabelProbe } from '../src/experiment/probes/relabel';
import { packets, type Repeat } from '../src/experiment/probes/repeat';
import { selfTrainProbe } from '../src/experiment/probes/self-train';
import { typicalityProbe } from '../src/experiment/probes/typicality';
import { CliError, defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { folderReader, pathExists, writeFolderAtomic } from '../src/node/fs-atomic';
import { checkOutputFolder } from '../src/node/output-folder';
import { networkDatasets } from '../src/train/train-network';

const PROBES = [
  'blur',
  'real-aligned',
  'typicality',
  'relabel',
  'refine',
  'self-train',
  'image-stats',
] as const;
const NUMBER = /^(\d+(\.\d*)?|\.\d+)$/;
/** What each probe's --values may hold. */
const VALUE_PATTERNS: Record<(typeof PROBES)[number], RegExp> = {
  blur: /^(none|sharpen-(\d+(\.\d*)?|\.\d+)|\d+(\.\d*)?|\.\d+)$/,
  'real-aligned': NUMBER,
  typicality: /^(0(\.\d*)?|\.\d+|1(\.0*)?)$/,
  relabel: /^(disputed-)?(0(\.\d*)?|\.\d+|1(\.0*)?)$/,
  refine: NUMBER,
  'self-train': /^(0(\.\d*)?|\.\d+|1(\.0*)?)$/,
  'image-stats': /^none$/,
};
const VALUE_HELP: Record<(typeof PROBES)[number], string> = {
  blur: 'none, a blur sigma (e.g. 0.6) or sharpen-AMOUNT',
  'real-aligned': 'domain weights >= 0 (0: no domain classifier)',
  typicality: 'quantiles in [0, 1]',
  relabel:
    'mixing weights in [0, 1], or disputed-W (only samples the ensemble gives another network)',
  refine: 'step sizes >= 0 (0: unrefined)',
  'self-train': "the round-1 network's share of the round-2 targets, in [0, 1]",
  'image-stats': 'none',
};

const cli = defineCli({
  usage: 'npm run probe:transfer -- --probe KIND --nets DIR --data-dir DIR --seed N --target ID',
  about:
    'Exploratory probes of the generated/real gap on one repeat (see the header of this file).',
  flags: {
    probe: flag(z.enum(PROBES), { value: 'KIND', help: PROBES.join(' | ') }),
    nets: flag(z.string(), {
      value: 'DIR',
      help: "one repeat's network folders (net-a, net-b, ...)",
    }),
    'data-dir': flag(z.string(), {
      value: 'DIR',
      help: 'the dataset the networks were trained on',
    }),
    seed: flag(z.coerce.number().int().nonnegative(), { value: 'N', help: "the repeat's seed" }),
    target: flag(NetworkIdSchema, { value: 'ID', help: 'the fine-tuned network' }),
    values: flag(
      z
        .string()
        .transform((s) => s.split(',').filter(Boolean))
        .pipe(z.array(z.string().regex(/^(none|sharpen-|disputed-)?[0-9.]*$/)).min(1)),
      { value: 'LIST', help: 'variants, e.g. none,0.6,1,sharpen-1 (blur) or 0,0.3 (others)' },
    ),
    'validation-fraction': flag(z.coerce.number().min(0.01).max(0.5), {
      value: 'F',
      default: 0.1,
      help: "each network's validation slice, as its training kept it",
    }),
    out: flag(z.string(), {
      value: 'DIR',
      help: 'results.json (new or empty folder; else --force)',
    }),
    force: switchFlag('replace a non-empty --out'),
  },
  rules: (f, ctx) => {
    for (const k of ['probe', 'nets', 'dataDir', 'seed', 'target', 'values', 'out'] as const) {
      if (f[k] === undefined) ctx.addIssue({ code: 'custom', message: 'required', path: [k] });
    }
    const wrong = (f.values ?? []).filter((v) => !VALUE_PATTERNS[f.probe ?? 'blur'].test(v));
    if (wrong.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `${wrong.join(', ')}: --probe ${f.probe} takes ${VALUE_HELP[f.probe ?? 'blur']}`,
        path: ['values'],
      });
    }
  },
});

runMain(async () => {
  const f = cli.parse(process.argv.slice(2));
  const out = f.out!;
  await checkOutputFolder(out, { force: f.force, ownFiles: ['results.json'] });
  await initClientBackend('wasm');
  const ids = networkIds(10);
  const nets: LoadedNetwork[] = [];
  for (const id of ids) {
    const dir = join(f.nets!, id);
    if (!(await pathExists(join(dir, 'manifest.json')))) break;
    nets.push(await loadNetwork(folderReader(dir)));
  }
  const target = nets.find((n) => n.manifest.networkId === f.target);
  if (!target) {
    throw new CliError(
      `--target ${f.target} is not one of the networks in ${f.nets} (${nets.map((n) => n.manifest.networkId).join(', ') || 'none: no net-a/manifest.json there'})`,
    );
  }
  const data = await loadDataset({ dataDir: f.dataDir! });
  const own = nets.map((n) =>
    networkDatasets({
      networkId: n.manifest.networkId,
      classes: n.manifest.classes,
      data,
      seed: f.seed!,
      validationFraction: f.validationFraction,
    }),
  );
  const r: Repeat = {
    nets,
    own,
    validation: concatDatasets(own.map((o) => o.validation)),
    test: data.test,
    target,
    seed: f.seed!,
  };
  let candidates: Promise<SoftSet[]> | undefined;
  const typicalityCandidates = () => {
    candidates = candidates ?? packets(r, 3);
    return candidates;
  };
  const runs: Record<(typeof PROBES)[number], (value: string) => Promise<object>> = {
    blur: (v) => blurProbe(r, v),
    'real-aligned': (v) => realAlignedProbe(r, v),
    typicality: (v) => typicalityProbe(r, v, typicalityCandidates()),
    relabel: (v) => relabelProbe(r, v),
    refine: (v) => refineProbe(r, v),
    'self-train': (v) => selfTrainProbe(r, v),
    'image-stats': () => imageStatsProbe(r, data.test),
  };
  const variants: Record<string, unknown>[] = [];
  for (const value of f.values!) {
    const t0 = performance.now();
    const row = {
      value,
      ...(await runs[f.probe!](value)),
      seconds: (performance.now() - t0) / 1000,
    };
    console.log(`${f.probe} ${value}: ${JSON.stringify(row).slice(0, 200)}`);
    variants.push(row);
  }
  const summary = {
    probe: f.probe,
    nets: f.nets,
    seed: f.seed,
    target: f.target,
    dataset: data.name,
    variants,
  };
  await writeFolderAtomic(out, { 'results.json': `${JSON.stringify(summary, null, 2)}\n` });
  console.log(
    JSON.stringify({
      probe: f.probe,
      variants: variants.map(({ value, validation, test }) => ({ value, validation, test })),
    }),
  );
});
