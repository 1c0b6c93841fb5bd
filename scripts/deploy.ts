/**
 * npm run deploy -- --network <id>|--all [--dry-run] [--model-dir <dir>]
 * Generates the network's wrangler environment (.wrangler/networks/<id>/wrangler.json),
 * bundles it, reports its gzipped size against the free plan's 3 MB and, without
 * --dry-run, deploys it (needs a Cloudflare account: `wrangler login`).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deployNetwork } from '../src/worker/deploy';
import { listModelDirs, REPO_ROOT } from '../src/worker/worker-bundle';

const { values } = parseArgs({
  options: {
    network: { type: 'string' },
    all: { type: 'boolean', default: false },
    'model-dir': { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
  strict: true,
});
const dirs = values['model-dir']
  ? [values['model-dir']]
  : values.all
    ? await listModelDirs()
    : values.network
      ? [join(REPO_ROOT, 'models', values.network)]
      : [];
if (dirs.length === 0) throw new Error('give --network <id>, --all or --model-dir <dir>');
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
let ok = true;
for (const dir of dirs) {
  const r = await deployNetwork(dir, { dryRun: values['dry-run'] });
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
process.exitCode = ok ? 0 : 1;
