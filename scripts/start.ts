import { z } from 'zod';
import { initClientBackend } from '../src/client';
import { runDemo } from '../src/experiment/demo';
import { parseCli, runMain, throttledLog } from '../src/node/cli';
import { checkOutputFolder } from '../src/node/output-folder';

const HELP = `npm start [-- options]

The main job, end to end: one local endpoint per demo network in models/ (workerd on
127.0.0.1), the fine-tuning client fetches their knowledge packets, fine-tunes the target,
and a before/after table on the real MNIST test set is printed; PNG grids of what each
network shared are written. Servers are stopped at the end. When --models holds fewer than
two networks, two small ones are trained first (about a minute) under --out.

  --models DIR            folder of network folders                 default: models
  --target NAME           the network that learns             default: the last one
  --runtime R             workerd | node                            default: workerd
  --out DIR               PNGs, merged network, summary.json   default: runs/start
                          (new, empty, or an earlier npm start's; else --force)
  --force                 write into a --out that holds other files too
  --samples-per-class N   per class per network                     default: 600
  --threshold T           selection of confident samples            default: 0.9
  --epochs N              fine-tuning epochs                        default: 3
  --seed N                default: 1`;

const Schema = z.object({
  models: z.string().default('models'),
  target: z.string().optional(),
  runtime: z.enum(['workerd', 'node']).default('workerd'),
  out: z.string().default('runs/start'),
  force: z.boolean().default(false),
  samplesPerClass: z.coerce.number().int().positive().default(600),
  threshold: z.coerce.number().min(0).max(1).default(0.9),
  epochs: z.coerce.number().int().positive().default(3),
  seed: z.coerce.number().int().nonnegative().default(1),
});

runMain(async () => {
  const o = parseCli(
    process.argv.slice(2),
    {
      models: { type: 'string' },
      target: { type: 'string' },
      runtime: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      'samples-per-class': { type: 'string' },
      threshold: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
    },
    Schema,
    HELP,
  );
  // What the demo writes into --out: an earlier run's output is its own, anything else is not.
  await checkOutputFolder(o.out, {
    force: o.force,
    forceHint: 'write into it anyway (files of the same names are replaced)',
    ownFiles: (name) => /^(summary\.json|models|.+-merged|shared-.+\.png)$/.test(name),
  });
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  process.env.WRANGLER_SEND_METRICS = 'false';
  await initClientBackend('wasm');
  const log = throttledLog(3000);
  const t0 = performance.now();
  const result = await runDemo({
    modelsDir: o.models,
    ...(o.target ? { target: o.target } : {}),
    runtime: o.runtime,
    outDir: o.out,
    samplesPerClass: o.samplesPerClass,
    threshold: o.threshold,
    epochs: o.epochs,
    seed: o.seed,
    log: (line) => log('demo', line, true),
    onEvent: (e) => {
      if (e.kind === 'download')
        log(
          `dl${e.endpoint}`,
          `  ${e.endpoint}: ${e.kept}/${e.wanted} samples`,
          e.kept === e.wanted,
        );
      else if (e.kind === 'merged')
        log('m', `merged ${e.count} samples over classes ${e.classes.join(',')}`, true);
      else if (e.kind === 'batch')
        log(
          'b',
          `  fine-tune epoch ${e.epoch} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)}`,
        );
      else if (e.kind === 'epoch')
        log(
          'e',
          `fine-tune epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)} (${e.imagesPerSecond.toFixed(0)} img/s)`,
          true,
        );
      else if (e.kind === 'retry') log('r', `  retry: ${e.message}`, true);
    },
  });
  process.stdout.write(
    `\n${result.table}\n${result.notes.map((n) => `note: ${n}\n`).join('')}\nWhat each network shared: ${result.previews.join(', ')}\n` +
      `Merged network saved to ${result.mergedDir}\n` +
      `Done in ${((performance.now() - t0) / 1000).toFixed(0)} s (fetch ${result.seconds.fetch.toFixed(0)} s, fine-tune ${result.seconds.finetune.toFixed(0)} s).\n`,
  );
});
