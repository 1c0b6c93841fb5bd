/**
 * npm run deploy -- --network <id>|--all [--dry-run] [--model-dir <dir>]
 * Generates the network's wrangler environment (.wrangler/networks/<id>/wrangler.json),
 * bundles it, reports its gzipped size against the free plan's 3 MB and, without
 * --dry-run, deploys it (needs a Cloudflare account: `wrangler login`).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { NetworkIdSchema } from '../src/core/manifest';
import { CliError, defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { REPO_ROOT } from '../src/node/repo-root';
import { deployNetwork } from '../src/worker-host/deploy';
import { listModelDirs } from '../src/worker-host/worker-bundle';

const cli = defineCli({
  usage: 'npm run deploy -- --network <id> | --all | --model-dir <dir> [--dry-run]',
  about: `Generates the network's wrangler environment (.wrangler/networks/<id>/wrangler.json),
bundles it, reports its gzipped size against the Workers free plan's 3 MB and, without
--dry-run, deploys it (needs a Cloudflare account: \`wrangler login\`).`,
  flags: {
    network: flag(NetworkIdSchema, { value: 'ID', help: 'a network folder under models/' }),
    all: switchFlag('every network under models/'),
    'model-dir': flag(z.string(), { value: 'DIR', help: 'this model folder' }),
    'dry-run': switchFlag('bundle and report only'),
  },
  rules: (f, ctx) => {
    if (!(f.network || f.all || f.modelDir)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give --network <id>, --all or --model-dir <dir>',
        path: ['network'],
      });
    }
  },
});

runMain(async () => {
  const values = cli.parse(process.argv.slice(2));
  const dirs = values.modelDir
    ? [values.modelDir]
    : values.all
      ? await listModelDirs()
      : [join(REPO_ROOT, 'models', values.network!)];
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  let ok = true;
  for (const dir of dirs) {
    const r = await deployNetwork(dir, { dryRun: values.dryRun });
    console.log(`\n${r.workerName} (${r.configPath})${r.dryRun ? ' — dry run' : ' — deployed'}`);
    for (const f of r.files)
      console.log(
        `  ${f.path.padEnd(48)} ${kib(f.bytes).padStart(12)}  gzip ${kib(f.gzipBytes).padStart(10)}`,
      );
    console.log(
      `  total ${kib(r.totalBytes)}, gzip ${kib(r.totalGzipBytes)} of ${kib(r.limitBytes)}: ${r.withinLimit ? 'within' : 'OVER'} the free plan limit`,
    );
    console.log(
      JSON.stringify({
        network: r.networkId,
        totalBytes: r.totalBytes,
        gzipBytes: r.totalGzipBytes,
        limitBytes: r.limitBytes,
        withinLimit: r.withinLimit,
      }),
    );
    ok &&= r.withinLimit;
  }
  if (!ok) throw new CliError('a bundle is over the Workers free plan limit of 3 MB gzip');
});
