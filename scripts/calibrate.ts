/**
 * npm run calibrate -- --model-dir M --data-dir D --out O [--force] [--split train|test]
 * [--max-images N]   A calibrated copy of a model folder (calibration.json added).
 */
import { z } from 'zod';
import { CALIBRATION_FILE } from '../src/core/calibration';
import { readManifest } from '../src/core/model-folder';
import { DatasetError, loadDataset } from '../src/data/idx';
import { selectClasses } from '../src/data/partition';
import { subsample } from '../src/data/subsample';
import { CliError, defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { folderReader, pathExists } from '../src/node/fs-atomic';
import { checkOutputFolder } from '../src/node/output-folder';
import { initWasmBackend } from '../src/node/wasm-backend';
import { calibrateNetworkFolder } from '../src/train/calibrate-folder';

const MAX_IMAGES = 200_000;

const cli = defineCli({
  usage: 'npm run calibrate -- --model-dir DIR --data-dir DIR --out DIR [options]',
  about: `Writes a calibrated copy of a network's model folder: every file copied byte for byte, plus
${CALIBRATION_FILE} (what POST /v1/label answers with and the client's cross-labelling uses)
and the manifest with its sha256. The calibration is fitted on the images of the network's
own classes found in --data-dir; the other classes' images are ignored. They must be images
the network did NOT train on: typically a held-out folder of the owner's own data (a network
trained with npm run train -- --validation-fraction F is calibrated on its validation slice
already). Class ids must mean what they meant in the network's training data (IDX labels, or
image folders named by class id). The model folder itself is never written.`,
  flags: {
    'model-dir': flag(z.string().min(1), {
      value: 'DIR',
      required: true,
      help: 'the network to calibrate (manifest.json, classifier/, generator/)',
    }),
    'data-dir': flag(z.string().min(1), {
      value: 'DIR',
      required: true,
      help: 'held-out images: an IDX folder or image folders (train/, test/)',
    }),
    split: flag(z.enum(['train', 'test']), {
      value: 'S',
      default: 'train',
      help: 'which split of --data-dir to fit on: train | test',
    }),
    'max-images': flag(z.coerce.number().int().min(1).max(MAX_IMAGES), {
      value: 'N',
      default: 10_000,
      help: `fit on at most N of the network's images (a seeded sample; 1-${MAX_IMAGES})`,
    }),
    seed: flag(z.coerce.number().int().nonnegative(), {
      value: 'N',
      default: 1,
      help: 'seed of that sample',
    }),
    out: flag(z.string().min(1), {
      value: 'DIR',
      required: true,
      help: 'the calibrated copy (new or empty; written into a temp folder, then renamed)',
    }),
    force: switchFlag('replace a non-empty --out (after the calibration succeeds)'),
  },
});

runMain(async () => {
  const f = cli.parse(process.argv.slice(2));
  if (!(await pathExists(f.modelDir))) {
    throw new CliError(`--model-dir ${f.modelDir}: no such folder`);
  }
  await checkOutputFolder(f.out, { force: f.force, protect: [['--model-dir', f.modelDir]] });
  const manifest = await readManifest(folderReader(f.modelDir));
  const id = manifest.networkId;
  process.stderr.write(`${id}: classes ${manifest.classes.join(',')}; reading ${f.dataDir}...\n`);
  const data = await loadDataset({ dataDir: f.dataDir });
  const split = data[f.split];
  const all = selectClasses(split, manifest.classes);
  if (all.count === 0) {
    throw new DatasetError(
      `--data-dir ${f.dataDir}: its ${f.split} split (${split.count} images, classes ${data.classIds.join(',')}) holds no images of ${id}'s classes ${manifest.classes.join(',')}`,
    );
  }
  const own = subsample(all, f.maxImages, f.seed);
  process.stderr.write(
    `${f.split} split: ${split.count} images, ${all.count} of ${id}'s classes; fitting on ${own.count}...\n`,
  );
  await initWasmBackend();
  const started = performance.now();
  const { manifest: out, calibration } = await calibrateNetworkFolder({
    modelDir: f.modelDir,
    outDir: f.out,
    images: own,
  });
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`wrote ${f.out} (${CALIBRATION_FILE} added) in ${seconds.toFixed(1)} s\n`);
  process.stdout.write(
    `${JSON.stringify({
      network: id,
      classes: out.classes,
      modelDir: f.modelDir,
      out: f.out,
      dataDir: f.dataDir,
      split: f.split,
      images: own.count,
      temperature: calibration.temperature,
      featureSize: calibration.featureSize,
      calibrationSha256: out.files[CALIBRATION_FILE],
    })}\n`,
  );
});
