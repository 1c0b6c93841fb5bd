/**
 * Training / inference throughput of the conv nets on the tfjs wasm backend (with the fast
 * kernels), on real MNIST. Prints a table and, as the last line, one JSON object; writes the
 * "## Training" section of docs/BENCHMARKS.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { buildClassifier, buildDecoder, buildEncoder } from '../src/core/models';
import { mnistDir, readIdxDataset } from '../src/data/idx';
import { nativeAddonError, nativeInfo, nativeKernelsActive } from '../src/node/native-kernels';
import { initWasmBackend, wasmThreads } from '../src/node/wasm-backend';

const HELP = `Usage: npm run bench:train -- [options]

Times one training step (Adam) of a classifier and of a VAE, and inference of the classifier
and of the VAE decoder, on the tfjs wasm backend with the project's fast kernels, on MNIST.
Two pairs of networks: 'ref' (the reference nets of the training issue) and 'ours'
(src/core/models.ts with defaults).

Options:
  --steps N          timed steps per measurement (default 8)
  --warmup N         untimed steps first (default 2)
  --threads N        XNNPACK threads (default 1; 2 uses the threaded wasm binary)
  --batch N          training batch (default 64)
  --infer-batch N    inference batch (default 256)
  --nets LIST        ref,ours (default both)
  --upsampling KIND  decoder upsampling for 'ours': transpose | resize (default: models.ts)
  --native           use the native OpenBLAS kernels (src/node/native-kernels.ts; fails when the
                     addon is not built). Without it: the wasm kernels only
  --native-threads N native pool size (default: all cores)
  --profile          print the kernels that take the time in one step of each network
  --no-write         do not update docs/BENCHMARKS.md
  --help             this text
`;

const FlagsSchema = z.object({
  steps: z.coerce.number().int().min(1).max(1000).default(8),
  warmup: z.coerce.number().int().min(0).max(100).default(2),
  threads: z.coerce.number().int().min(1).max(8).default(1),
  batch: z.coerce.number().int().min(1).max(4096).default(64),
  inferBatch: z.coerce.number().int().min(1).max(8192).default(256),
  nets: z
    .string()
    .default('ref,ours')
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(['ref', 'ours'])).min(1)),
  upsampling: z.enum(['transpose', 'resize']).optional(),
  native: z.boolean().default(false),
  nativeThreads: z.coerce.number().int().min(1).max(64).optional(),
  profile: z.boolean().default(false),
  write: z.boolean().default(true),
});
type Flags = z.infer<typeof FlagsSchema>;

function parseFlags(argv: string[]): Flags | 'help' {
  const raw: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (see --help)`);
    const [k0, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const key = k0.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (key === 'profile') raw.profile = true;
    else if (key === 'native') raw.native = true;
    else if (key === 'noWrite') raw.write = false;
    else {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`--${k0} needs a value`);
      raw[key] = v;
    }
  }
  const known = new Set(Object.keys(FlagsSchema.shape));
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new Error(`unknown flag --${k}`);
  const parsed = FlagsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `bad flags: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

const IMAGE: [number, number, number] = [28, 28, 1];
const LATENT = 32;

interface Nets {
  classifier: tfl.LayersModel;
  encoder: tfl.LayersModel;
  decoder: tfl.LayersModel;
}

function conv(filters: number, strides: number, name?: string) {
  return tfl.layers.conv2d({
    filters,
    kernelSize: 3,
    strides,
    padding: 'same',
    activation: 'relu',
    ...(name ? { name } : {}),
  });
}

/** The reference nets of the training issue, exactly. */
function referenceNets(): Nets {
  const classifier = tfl.sequential({
    layers: [
      tfl.layers.inputLayer({ inputShape: IMAGE }),
      conv(32, 1),
      conv(32, 2),
      conv(64, 1),
      conv(64, 2),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: 'relu' }),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const img = tfl.input({ shape: IMAGE });
  let h = [conv(32, 2), conv(64, 2), conv(64, 1), conv(64, 1)].reduce(
    (t, l) => l.apply(t) as tfl.SymbolicTensor,
    img,
  );
  h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
  const mean = tfl.layers.dense({ units: LATENT }).apply(h) as tfl.SymbolicTensor;
  const logVar = tfl.layers.dense({ units: LATENT }).apply(h) as tfl.SymbolicTensor;
  const encoder = tfl.model({ inputs: img, outputs: [mean, logVar] });
  const tconv = (filters: number, strides: number, activation: 'relu' | 'sigmoid') =>
    tfl.layers.conv2dTranspose({ filters, kernelSize: 3, strides, padding: 'same', activation });
  const decoder = tfl.sequential({
    layers: [
      tfl.layers.inputLayer({ inputShape: [LATENT] }),
      tfl.layers.dense({ units: 7 * 7 * 64, activation: 'relu' }),
      tfl.layers.reshape({ targetShape: [7, 7, 64] }),
      tconv(64, 2, 'relu'),
      tconv(32, 2, 'relu'),
      tconv(32, 1, 'relu'),
      tconv(1, 1, 'sigmoid'),
    ],
  });
  return { classifier, encoder, decoder };
}

function ourNets(upsampling: Flags['upsampling']): Nets {
  return {
    classifier: buildClassifier({ imageShape: IMAGE, numClasses: 10 }).model,
    encoder: buildEncoder({ imageShape: IMAGE, latentSize: LATENT }),
    decoder: buildDecoder({
      imageShape: IMAGE,
      latentSize: LATENT,
      ...(upsampling ? { upsampling } : {}),
    }),
  };
}

/** BCE (summed over pixels) + KL, averaged over the batch; encoder -> reparameterise -> decoder. */
function vaeLoss(nets: Nets, x: tf.Tensor4D): tf.Scalar {
  const [mean, logVar] = nets.encoder.apply(x, { training: true }) as [tf.Tensor2D, tf.Tensor2D];
  const eps = tf.randomNormal(mean.shape, 0, 1, 'float32', 7);
  const zs = tf.add(mean, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps));
  const xHat = tf.clipByValue(
    nets.decoder.apply(zs, { training: true }) as tf.Tensor4D,
    1e-7,
    1 - 1e-7,
  );
  const bce = tf.neg(
    tf.add(tf.mul(x, tf.log(xHat)), tf.mul(tf.sub(1, x), tf.log(tf.sub(1, xHat)))),
  );
  const rec = tf.div(tf.sum(bce), x.shape[0]);
  const kl = tf.mul(
    -0.5 / x.shape[0],
    tf.sum(tf.sub(tf.add(1, logVar), tf.add(tf.square(mean), tf.exp(logVar)))),
  );
  return tf.add(rec, kl) as tf.Scalar;
}

interface Rates {
  classifier_train_img_s: number;
  vae_train_img_s: number;
  classifier_infer_img_s: number;
  decoder_infer_img_s: number;
}

/** Images per second from the median step time (the machine is shared: medians resist noise). */
async function timeIt(
  warmup: number,
  steps: number,
  images: number,
  step: (i: number) => Promise<void>,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await step(i);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step(warmup + i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median =
    times.length % 2 === 1
      ? (times[mid] as number)
      : ((times[mid - 1] as number) + (times[mid] as number)) / 2;
  return images / (median / 1000);
}

async function profile(label: string, f: () => Promise<void>): Promise<void> {
  const info = await tf.profile(async () => {
    await f();
    return [];
  });
  const by = new Map<string, number>();
  let total = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    by.set(k.name, (by.get(k.name) ?? 0) + ms);
    total += ms;
  }
  const top = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  console.log(`\nprofile ${label}: ${total.toFixed(1)} ms in ${info.kernels.length} kernels`);
  for (const [name, ms] of top) console.log(`  ${name.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms`);
}

async function bench(
  which: 'ref' | 'ours',
  flags: Flags,
  images: Float32Array,
  labels: Uint8Array,
) {
  const nets = which === 'ref' ? referenceNets() : ourNets(flags.upsampling);
  const { batch, inferBatch, steps, warmup } = flags;
  const px = IMAGE[0] * IMAGE[1] * IMAGE[2];
  const nBatches = Math.floor(images.length / px / batch);
  const batchAt = (i: number) => {
    const j = i % nBatches;
    const x = tf.tensor4d(images.subarray(j * batch * px, (j + 1) * batch * px), [batch, ...IMAGE]);
    const y = tf.oneHot(tf.tensor1d(labels.subarray(j * batch, (j + 1) * batch), 'int32'), 10);
    return { x, y };
  };

  nets.classifier.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const clsStep = async (i: number) => {
    const { x, y } = batchAt(i);
    await nets.classifier.trainOnBatch(x, y);
    tf.dispose([x, y]);
  };
  const vaeVars = [...nets.encoder.trainableWeights, ...nets.decoder.trainableWeights].map(
    (w) => w.read() as tf.Variable,
  );
  const adam = tf.train.adam(1e-3);
  const vaeStep = async (i: number) => {
    const { x, y } = batchAt(i);
    const loss = adam.minimize(() => vaeLoss(nets, x), true, vaeVars);
    await loss?.data();
    tf.dispose([x, y, loss as tf.Scalar]);
  };
  const xi = tf.tensor4d(images.subarray(0, inferBatch * px), [inferBatch, ...IMAGE]);
  const zi = tf.randomNormal([inferBatch, LATENT], 0, 1, 'float32', 3);
  const inferCls = async () => {
    const p = nets.classifier.predict(xi) as tf.Tensor;
    await p.data();
    p.dispose();
  };
  const inferDec = async () => {
    const p = nets.decoder.predict(zi) as tf.Tensor;
    await p.data();
    p.dispose();
  };

  const rates: Rates = {
    classifier_train_img_s: await timeIt(warmup, steps, batch, clsStep),
    vae_train_img_s: await timeIt(warmup, steps, batch, vaeStep),
    classifier_infer_img_s: await timeIt(warmup, steps, inferBatch, inferCls),
    decoder_infer_img_s: await timeIt(warmup, steps, inferBatch, inferDec),
  };
  if (flags.profile) {
    await profile(`${which} classifier train step`, () => clsStep(0));
    await profile(`${which} VAE train step`, () => vaeStep(0));
    await profile(`${which} decoder inference (batch ${inferBatch})`, inferDec);
  }
  tf.dispose([xi, zi]);
  for (const m of [nets.classifier, nets.encoder, nets.decoder]) m.dispose();
  adam.dispose();
  return rates;
}

function round(r: Rates): Rates {
  const o = {} as Rates;
  for (const [k, v] of Object.entries(r)) o[k as keyof Rates] = Math.round(v);
  return o;
}

function table(results: Record<string, Rates>): string {
  const keys: [keyof Rates, string][] = [
    ['classifier_train_img_s', 'classifier train (img/s)'],
    ['vae_train_img_s', 'VAE train (img/s)'],
    ['classifier_infer_img_s', 'classifier inference (img/s)'],
    ['decoder_infer_img_s', 'decoder inference (img/s)'],
  ];
  const names = Object.keys(results);
  // Padded like biome formats markdown tables, so `npm run lint` passes after a run.
  const rows = [
    ['measurement', ...names],
    ...keys.map(([k, label]) => [label, ...names.map((n) => String(results[n]?.[k] ?? ''))]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(3, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    `| ${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (c === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

const DOC_HEADING = '## Training (`npm run bench:train`)';
const DOC_INTRO = [
  'Images per second on the tfjs wasm backend with the fast kernels (src/core/kernels), MNIST,',
  "median step time. 'ref' = the reference nets of the training issue; 'ours' = src/core/models.ts",
  'defaults. The machine is shared with other jobs: the load average is recorded with each run.',
  'PyTorch 1.13 CPU on the same machine (reference nets): classifier train ~1640, VAE train ~660,',
  'classifier inference ~3060, decoder inference ~1800 img/s.',
  'Where the time goes (tf.profile, `--profile`): the conv kernels on XNNPACK (~85% of a step:',
  'filter gradient ~1.1-1.5x, input gradient ~0.7-1x the forward convs), then bias sums, dense',
  'matmuls and elementwise ops. XNNPACK runs ~20-26 GFLOP/s per thread here (wasm SIMD128, no',
  'FMA), which caps one thread at ~500 train img/s for the reference classifier (~47 MFLOP/img).',
  'Two threads help only when the other core is idle; under load they are slower.',
  'Blocks named "native, ..." ran with `--native`: the optional OpenBLAS kernels',
  '(src/node/native-kernels.ts: convs, matmuls, bias sums) with the rest on wasm; the others ran',
  'the wasm kernels only. Compare blocks measured at similar load averages.',
].join('\n');

/** Replace one `### <key>` block inside the training section (other blocks and sections stay). */
function writeDocs(key: string, md: string): void {
  const file = path.join(process.cwd(), 'docs', 'BENCHMARKS.md');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = old.indexOf(DOC_HEADING);
  const after = start < 0 ? -1 : old.indexOf('\n## ', start + DOC_HEADING.length);
  const body =
    start < 0 ? '' : old.slice(start + DOC_HEADING.length, after < 0 ? old.length : after + 1);
  const blocks = new Map<string, string>();
  for (const part of body.split(/\n(?=### )/).slice(1)) {
    const title = part.slice(4, part.indexOf('\n') < 0 ? part.length : part.indexOf('\n'));
    blocks.set(title.trim(), part.trim());
  }
  blocks.set(key, `### ${key}\n\n${md.trim()}`);
  const section = `${DOC_HEADING}\n\n${DOC_INTRO}\n\n${[...blocks.values()].join('\n\n')}\n`;
  const next =
    start < 0
      ? `${old.trimEnd()}\n\n${section}`
      : `${old.slice(0, start)}${section}${after < 0 ? '' : `\n${old.slice(after + 1)}`}`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, next);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const loadBefore = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  await initWasmBackend({
    threads: flags.threads,
    native: flags.native,
    ...(flags.nativeThreads === undefined ? {} : { nativeThreads: flags.nativeThreads }),
  });
  const native = nativeInfo();
  if (flags.native && !nativeKernelsActive()) {
    throw new Error(`--native: the native addon is not available (${nativeAddonError()})`);
  }
  const kernels =
    flags.native && native !== null
      ? `native kernels (OpenBLAS sgemm, ${native.threads} thread(s); ${native.blas.trim()}) + wasm for the rest`
      : 'wasm kernels only (XNNPACK + src/core/kernels)';
  console.log(`kernels: ${kernels}`);
  const ds = await readIdxDataset(mnistDir(), 'train');
  const take = Math.min(ds.count, Math.max(flags.batch * 16, flags.inferBatch));
  const px = IMAGE[0] * IMAGE[1] * IMAGE[2];
  const images = new Float32Array(take * px);
  for (let i = 0; i < images.length; i++) images[i] = (ds.images[i] as number) / 255;
  const labels = ds.labels.subarray(0, take);

  const results: Record<string, Rates> = {};
  for (const which of flags.nets) results[which] = round(await bench(which, flags, images, labels));

  const cpu = os.cpus();
  const machine = `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} logical cores, Node ${process.version}`;
  const command = `npm run bench:train -- ${process.argv.slice(2).join(' ')}`.trim();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  const meta = `load average before/after ${loadBefore} -> ${load}; batch ${flags.batch} (inference ${flags.inferBatch}), ${flags.warmup} warm-up + ${flags.steps} timed steps (median), wasm backend, ${wasmThreads()} XNNPACK thread(s); ${kernels}`;
  const tbl = table(results);
  console.log(`\n${machine}\n${meta}\n\n${tbl}\n`);
  if (flags.write) {
    const key =
      (flags.native && native !== null
        ? `native, ${native.threads} BLAS thread${native.threads === 1 ? '' : 's'}, `
        : '') +
      `${wasmThreads()} thread${wasmThreads() === 1 ? '' : 's'}` +
      (flags.upsampling ? `, ${flags.upsampling} upsampling` : '');
    writeDocs(
      key,
      [
        `Command: \`${command}\``,
        '',
        `Machine: ${machine}. Measured ${new Date().toISOString().slice(0, 10)}; ${meta}.`,
        '',
        tbl,
      ].join('\n'),
    );
  }
  console.log(JSON.stringify(results));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
