/**
 * npm run bench:edge [-- --network <id> | --model-dir <dir>] [--count 1024] [--threshold 0.9]
 *                    [--reps 3] [--runtime workerd,node]
 * Per runtime: start time, cold start (the first request after start: wasm init + model load
 * + sha256 checks + answer), warm samples/s for a `count`-sample packet (median of `reps`
 * seeds) and candidates/s (decoder + classifier rate, rejects included), bytes per sample.
 * Without a network under models/, an untrained reference-size network is used, threshold 0.
 * Prints a table, then one JSON line.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { NetworkIdSchema } from '../src/core/manifest';
import { decodePacket } from '../src/core/packet';
import { parseCli } from '../src/node/cli';
import { REPO_ROOT } from '../src/node/repo-root';
import { initWasmBackend } from '../src/node/wasm-backend';
import { startLocalEndpoint } from '../src/worker/local-endpoint';
import { writeUntrainedNetwork } from '../src/worker/untrained-network';
import { listModelDirs } from '../src/worker/worker-bundle';
import { quietWrangler } from '../src/worker/workerd-local';

const HELP = `npm run bench:edge -- [flags]

Per runtime: start time, cold start (first request after start), warm samples/s for a
count-sample packet (median over reps seeds), candidates/s, bytes per sample. Prints a
table, then one JSON line.

  --network ID      a network under models/ (default: the first one; with none, an
                    untrained reference-size network at threshold 0)
  --model-dir DIR   this model folder instead
  --count N         samples per packet                default: 1024
  --threshold T     default: 0.9 (0 for the untrained network)
  --reps N          default: 3
  --runtime LIST    workerd,node | workerd | node     default: workerd,node`;

const Flags = z.object({
  network: NetworkIdSchema.optional(),
  modelDir: z.string().optional(),
  count: z.coerce.number().int().min(1).max(1024).default(1024),
  threshold: z.coerce.number().min(0).max(1).optional(),
  reps: z.coerce.number().int().min(1).max(20).default(3),
  runtime: z
    .string()
    .default('workerd,node')
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(['workerd', 'node'])).min(1)),
});
const str = { type: 'string' } as const;
const values = parseCli(
  process.argv.slice(2),
  { network: str, 'model-dir': str, count: str, threshold: str, reps: str, runtime: str },
  Flags,
  HELP,
);
quietWrangler();
await initWasmBackend();
let modelDir =
  values.modelDir ?? (values.network ? join(REPO_ROOT, 'models', values.network) : undefined);
let synthetic = false;
if (!modelDir) {
  modelDir = (await listModelDirs())[0];
  if (!modelDir) {
    modelDir = join(await mkdtemp(join(tmpdir(), 'ks-bench-')), 'untrained');
    await writeUntrainedNetwork(modelDir, { networkId: 'untrained' });
    synthetic = true;
  }
}
const { count, reps, runtime: runtimes } = values;
const threshold = values.threshold ?? (synthetic ? 0 : 0.9);

interface Row {
  runtime: string;
  startMs: number;
  coldFirstRequestMs: number;
  warmMs: number;
  samplesPerSec: number;
  candidatesPerSec: number;
  bytesPerSample: number;
  keptRatio: number;
}
const rows: Row[] = [];
let networkId = '';
for (const runtime of runtimes) {
  const t0 = performance.now();
  const ep = await startLocalEndpoint({ modelDir, runtime, waitUntilLoaded: false });
  const startMs = performance.now() - t0;
  networkId = ep.networkId;
  try {
    const t1 = performance.now();
    const first = await fetch(`${ep.url}/v1/network`);
    await first.arrayBuffer();
    const coldFirstRequestMs = performance.now() - t1;
    if (first.status !== 200) throw new Error(`${runtime}: /v1/network answered ${first.status}`);
    // one warm-up packet (first run of every kernel), then the timed ones
    await (
      await fetch(`${ep.url}/v1/packet?count=64&seed=999&threshold=${threshold}`)
    ).arrayBuffer();
    const runs: { ms: number; bytes: number; generated: number }[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      const res = await fetch(
        `${ep.url}/v1/packet?count=${count}&seed=${r + 1}&threshold=${threshold}`,
      );
      const bytes = new Uint8Array(await res.arrayBuffer());
      const ms = performance.now() - t;
      if (res.status !== 200)
        throw new Error(
          `${runtime}: packet answered ${res.status}: ${new TextDecoder().decode(bytes).slice(0, 300)}`,
        );
      runs.push({ ms, bytes: bytes.length, generated: decodePacket(bytes).metadata.generated });
    }
    runs.sort((a, b) => a.ms - b.ms);
    const mid = runs[runs.length >> 1]!;
    rows.push({
      runtime,
      startMs,
      coldFirstRequestMs,
      warmMs: mid.ms,
      samplesPerSec: (count / mid.ms) * 1000,
      candidatesPerSec: (mid.generated / mid.ms) * 1000,
      bytesPerSample: mid.bytes / count,
      keptRatio: count / mid.generated,
    });
  } finally {
    await ep.stop();
  }
}

const f = (n: number, d = 0) => n.toFixed(d);
console.log(
  `\nbench:edge — network ${networkId}${synthetic ? ' (untrained, reference size)' : ''}, ${count}-sample packets, threshold ${threshold}, median of ${reps}`,
);
console.log(
  '| runtime | start ms | cold first request ms | warm packet ms | samples/s | candidates/s | kept | bytes/sample |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.runtime} | ${f(r.startMs)} | ${f(r.coldFirstRequestMs, 1)} | ${f(r.warmMs)} | ${f(r.samplesPerSec)} | ${f(r.candidatesPerSec)} | ${f(r.keptRatio * 100, 1)}% | ${f(r.bytesPerSample, 1)} |`,
  );
}
console.log(
  JSON.stringify({ bench: 'edge', network: networkId, synthetic, count, threshold, reps, rows }),
);
