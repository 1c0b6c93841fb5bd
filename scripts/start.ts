import { z } from 'zod';
import { initClientBackend } from '../src/client';
import { runDemo } from '../src/experiment/demo';
import { defineCli, flag, runMain, switchFlag, throttledLog } from '../src/node/cli';
import { checkOutputFolder } from '../src/node/output-folder';

const cli = defineCli({
  usage: 'npm start [-- options]',
  about: `The main job, end to end: one local endpoint per demo network in models/ (workerd on
127.0.0.1), the fine-tuning client fetches their knowledge packets, fine-tunes the target,
and a before/after table on the real MNIST test set is printed; PNG grids of what each
network shared are written. Servers are stopped at the end. When --models holds fewer than
two networks, two small ones are trained first (about a minute) under --out.`,
  flags: {
    models: flag(z.string(), {
      value: 'DIR',
      default: 'models',
      help: 'folder of network folders',
    }),
    target: flag(z.string(), {
      value: 'NAME',
      defaultHelp: 'the last one',
      help: 'the network that learns',
    }),
    runtime: flag(z.enum(['workerd', 'node']), {
      value: 'R',
      default: 'workerd',
      help: 'workerd | node',
    }),
    out: flag(z.string(), {
      value: 'DIR',
      default: 'runs/start',
      help: "PNGs, merged network, summary.json (new, empty, or an earlier npm start's; else --force)",
    }),
    force: switchFlag('write into a --out that holds other files too'),
    'samples-per-class': flag(z.coerce.number().int().positive(), {
      value: 'N',
      default: 600,
      help: 'per class per network',
    }),
    threshold: flag(z.coerce.number().min(0).max(1), {
      value: 'T',
      default: 0.9,
      help: 'selection of confident samples',
    }),
    epochs: flag(z.coerce.number().int().positive(), {
      value: 'N',
      default: 3,
      help: 'fine-tuning epochs',
    }),
    seed: flag(z.coerce.number().int().nonnegative(), { value: 'N', default: 1, help: 'seed' }),
  },
});

runMain(async () => {
  const o = cli.parse(process.argv.slice(2));
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
