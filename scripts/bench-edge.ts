/**
 * npm run bench:edge [-- --network <id> | --model-dir <dir>] [--count 1024] [--threshold 0.9]
 *                    [--reps 3] [--runtime workerd,node]
 * Per runtime: start time, cold latency (the first request after start: isolate + wasm init +
 * model load + sha256 checks; then the first packet), warm packet latency and samples/s
 * (median of `reps` seeds), candidates/s, CPU ms per 1000 samples (CPU time of the serving
 * process(es) during the warm packets), cache-hit latency (a repeated seeded packet), and
 * /healthz latency (p50, p99, max) while 6 count-sample packets are in flight.
 * workerd is measured on its own socket (wrangler's dev proxy not in front).
 * Without a network under models/, an untrained reference-size network is used, threshold 0.
 * Prints a table, then one JSON line.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_GENERATOR } from '../src/core/generators';
import { GENERATOR_NAME_PATTERN, NetworkIdSchema } from '../src/core/manifest';
import { decodePacket } from '../src/core/packet';
import { defineCli, flag, runMain } from '../src/node/cli';
import { REPO_ROOT } from '../src/node/repo-root';
import { initWasmBackend } from '../src/node/wasm-backend';
import { startLocalEndpoint } from '../src/worker-host/local-endpoint';
import { writeUntrainedNetwork } from '../src/worker-host/untrained-network';
import { listModelDirs } from '../src/worker-host/worker-bundle';
import { quietWrangler } from '../src/worker-host/workerd-local';

const cli = defineCli({
  usage: 'npm run bench:edge -- [--network <id> | --model-dir <dir>] [flags]',
  about: `Per runtime: start time, cold latency (first request, first packet), warm packet latency,
samples/s and candidates/s (median over reps seeds), CPU ms per 1000 samples, cache-hit
latency, /healthz p50/p99/max while 6 count-sample packets are in flight. Prints a table,
then one JSON line.`,
  flags: {
    network: flag(NetworkIdSchema, {
      value: 'ID',
      defaultHelp: 'the first one; with none, an untrained\nreference-size network at threshold 0',
      help: 'a network under models/',
    }),
    'model-dir': flag(z.string().min(1), { value: 'DIR', help: 'this model folder instead' }),
    count: flag(z.coerce.number().int().min(1).max(1024), {
      value: 'N',
      default: 1024,
      help: 'samples per packet',
    }),
    generator: flag(z.string().regex(GENERATOR_NAME_PATTERN, 'a generator name'), {
      value: 'NAME',
      defaultHelp: `the endpoint's default (${DEFAULT_GENERATOR})`,
      help: 'generator of every packet (e.g. class-mixture)',
    }),
    threshold: flag(z.coerce.number().min(0).max(1), {
      value: 'T',
      defaultHelp: '0.9;\n0 for the untrained network',
      help: 'keep samples with top probability >= T',
    }),
    reps: flag(z.coerce.number().int().min(1).max(20), {
      value: 'N',
      default: 3,
      help: 'warm packets (seeds) per runtime',
    }),
    runtime: flag(
      z
        .string()
        .transform((s) => s.split(',').map((x) => x.trim()))
        .pipe(z.array(z.enum(['workerd', 'node'])).min(1)),
      {
        value: 'LIST',
        default: ['workerd', 'node'],
        defaultHelp: 'workerd,node',
        help: 'workerd,node | workerd | node',
      },
    ),
  },
});

/** Packet sizes whose CPU cost is measured (docs/API.md "CPU limits"). */
const PER_COUNT_SIZES = [64, 256, 1024];

interface PerCount {
  count: number;
  reps: number;
  /** Mean CPU ms of one packet: the serving process(es), measured over all reps. */
  cpuMs: number;
  /** Median wall ms of one packet on an otherwise idle server. */
  wallMs: number;
  /** Mean batches of candidates per packet (generated / batch size, rounded up). */
  batches: number;
  keptRatio: number;
}

interface Row {
  runtime: string;
  startMs: number;
  coldFirstRequestMs: number;
  coldFirstPacketMs: number;
  warmMs: number;
  samplesPerSec: number;
  candidatesPerSec: number;
  cpuMsPer1000Samples: number;
  cacheHitMs: number;
  healthzUnderLoad: { n: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** Per packet size: mean CPU ms (serving process) and median wall ms of one packet. */
  perCount: PerCount[];
  bytesPerSample: number;
  keptRatio: number;
}

/** CPU seconds (user + system) of this process's descendant processes named `name`. */
async function descendantsCpuSeconds(name: string): Promise<number> {
  const ticks = 100; // USER_HZ on Linux
  const procs = new Map<number, { ppid: number; comm: string; cpu: number }>();
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S+ (\d+)((?: \S+){9}) (\d+) (\d+)/.exec(stat);
    if (m)
      procs.set(Number(e), { comm: m[1]!, ppid: Number(m[2]), cpu: Number(m[4]) + Number(m[5]) });
  }
  let total = 0;
  for (const [pid, p] of procs) {
    if (!p.comm.startsWith(name)) continue;
    for (let q = procs.get(pid)?.ppid; q && q > 1; q = procs.get(q)?.ppid) {
      if (q === process.pid) {
        total += p.cpu / ticks;
        break;
      }
    }
  }
  return total;
}

const cpuSeconds = async (runtime: string) =>
  runtime === 'node'
    ? (() => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      })()
    : descendantsCpuSeconds('workerd');

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function timedGet(url: string): Promise<{ ms: number; bytes: Uint8Array; res: Response }> {
  const t = performance.now();
  const res = await fetch(url);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - t;
  if (res.status !== 200) {
    throw new Error(
      `${url} answered ${res.status}: ${new TextDecoder().decode(bytes).slice(0, 300)}`,
    );
  }
  return { ms, bytes, res };
}

runMain(async () => {
  const values = cli.parse(process.argv.slice(2));
  /** What the packets are generated with: the flag, else the endpoint's default. */
  const generator = values.generator ?? DEFAULT_GENERATOR;
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

  const rows: Row[] = [];
  let networkId = '';
  for (const runtime of runtimes) {
    const t0 = performance.now();
    const ep = await startLocalEndpoint({
      modelDir,
      runtime,
      waitUntilLoaded: false,
      log: () => undefined,
      limits: { maxQueuedPackets: 16 },
    });
    const startMs = performance.now() - t0;
    networkId = ep.networkId;
    const base = ep.directUrl;
    const packet = (seed: number, n = count) =>
      `${base}/v1/packet?count=${n}&seed=${seed}&threshold=${threshold}${values.generator ? `&generator=${values.generator}` : ''}`;
    try {
      const first = await timedGet(`${base}/v1/network`);
      const coldFirstRequestMs = first.ms;
      const { batchSize } = (
        JSON.parse(new TextDecoder().decode(first.bytes)) as {
          limits: { batchSize: number };
        }
      ).limits;
      const coldFirstPacketMs = (await timedGet(packet(999, 64))).ms;
      const runs: { ms: number; bytes: number; generated: number }[] = [];
      const cpu0 = await cpuSeconds(runtime);
      for (let r = 0; r < reps; r++) {
        const { ms, bytes } = await timedGet(packet(r + 1));
        runs.push({ ms, bytes: bytes.length, generated: decodePacket(bytes).metadata.generated });
      }
      const cpuMs = ((await cpuSeconds(runtime)) - cpu0) * 1000;
      const hits: number[] = [];
      for (let r = 0; r < 5; r++) {
        const { ms, res } = await timedGet(packet(1));
        if (res.headers.get('x-cache') !== 'hit')
          throw new Error(`${runtime}: repeat was not a cache hit`);
        hits.push(ms);
      }
      // /healthz while 6 packets (seeds not generated before) are in flight.
      let inFlight = 6;
      const big = Array.from({ length: 6 }, (_, i) =>
        timedGet(packet(100 + i)).finally(() => {
          inFlight--;
        }),
      );
      const health: number[] = [];
      while (inFlight > 0) {
        health.push((await timedGet(`${base}/healthz`)).ms);
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(big);
      // CPU and wall time per packet size, one packet at a time on the idle server, fresh seeds.
      const perCount: PerCount[] = [];
      for (const [ci, n] of PER_COUNT_SIZES.entries()) {
        const walls: number[] = [];
        let generated = 0;
        let batches = 0;
        const c0 = await cpuSeconds(runtime);
        for (let r = 0; r < reps; r++) {
          const { ms, bytes } = await timedGet(packet(2000 + 100 * ci + r, n));
          const g = decodePacket(bytes).metadata.generated;
          walls.push(ms);
          generated += g;
          batches += Math.ceil(g / batchSize);
        }
        const cpu = ((await cpuSeconds(runtime)) - c0) * 1000;
        perCount.push({
          count: n,
          reps,
          cpuMs: cpu / reps,
          wallMs: pct(walls, 50),
          batches: batches / reps,
          keptRatio: (n * reps) / generated,
        });
      }
      runs.sort((a, b) => a.ms - b.ms);
      const mid = runs[runs.length >> 1]!;
      const samples = count * reps;
      rows.push({
        runtime,
        startMs,
        coldFirstRequestMs,
        coldFirstPacketMs,
        warmMs: mid.ms,
        samplesPerSec: (count / mid.ms) * 1000,
        candidatesPerSec: (mid.generated / mid.ms) * 1000,
        cpuMsPer1000Samples: (cpuMs / samples) * 1000,
        cacheHitMs: pct(hits, 50),
        healthzUnderLoad: {
          n: health.length,
          p50Ms: pct(health, 50),
          p99Ms: pct(health, 99),
          maxMs: Math.max(...health),
        },
        perCount,
        bytesPerSample: mid.bytes / count,
        keptRatio: count / mid.generated,
      });
    } finally {
      await ep.stop();
    }
  }

  const f = (n: number, d = 0) => n.toFixed(d);
  console.log(
    `\nbench:edge — network ${networkId}${synthetic ? ' (untrained, reference size)' : ''}, ${count}-sample packets, threshold ${threshold}, generator ${generator}, median of ${reps}`,
  );
  console.log(
    '| runtime | start ms | cold first request ms | cold first packet (64) ms | warm packet ms | samples/s | candidates/s | CPU ms / 1000 samples | cache hit ms | /healthz p50 / p99 / max ms (n) under 6 packets | kept |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const h = r.healthzUnderLoad;
    console.log(
      `| ${r.runtime} | ${f(r.startMs)} | ${f(r.coldFirstRequestMs, 1)} | ${f(r.coldFirstPacketMs)} | ${f(r.warmMs)} | ${f(r.samplesPerSec)} | ${f(r.candidatesPerSec)} | ${f(r.cpuMsPer1000Samples)} | ${f(r.cacheHitMs, 1)} | ${f(h.p50Ms, 1)} / ${f(h.p99Ms, 1)} / ${f(h.maxMs, 1)} (${h.n}) | ${f(r.keptRatio * 100, 1)}% |`,
    );
  }
  console.log(
    '\n| runtime | count | CPU ms / packet (mean) | wall ms / packet (median, idle server) | batches | kept |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    for (const c of r.perCount) {
      console.log(
        `| ${r.runtime} | ${c.count} | ${f(c.cpuMs)} | ${f(c.wallMs)} | ${f(c.batches, 1)} | ${f(c.keptRatio * 100, 1)}% |`,
      );
    }
  }
  console.log(
    JSON.stringify({
      bench: 'edge',
      network: networkId,
      synthetic,
      generator,
      count,
      threshold,
      reps,
      rows,
    }),
  );
});
