import type { Dirent } from 'node:fs';
import { open, opendir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createRng, deriveSeed, permutation } from '../core/rng';
import { type Dataset, DatasetError } from './dataset';
import { decodePngImage } from './png-decode';

/**
 * The image-folder layout of torchvision's ImageFolder: `<dir>/train/<class>/**.png` and
 * `<dir>/test/<class>/**.png`. Class folders are the directories directly under train/
 * (hidden ones, starting with '.', are skipped); images are the .png files anywhere below a
 * class folder (hidden files skipped; any other file is an error rather than silently left out).
 * See `classIdsFromNames` for the name -> id rule and `decodePngImage` for accepted PNGs.
 * Every image of a dataset has the same width x height; channels are 1 if every image is
 * grayscale (or a gray palette), else 3 (grayscale images are then repeated into R, G, B).
 * Images come back in a fixed seeded shuffle of (class id, relative path) order, the same on
 * every machine, so that code taking the first N test images sees every class.
 */
export const IMAGE_FOLDER_LIMITS: Readonly<ImageFolderLimits> = Object.freeze({
  /** Bytes of one PNG file. */
  maxFileBytes: 16 * 2 ** 20,
  /** Images of both splits together. */
  maxImages: 2_000_000,
  /** Decoded bytes of both splits together (N*H*W*C). */
  maxTotalBytes: 2 ** 31,
  /** Folder levels below a class folder. */
  maxDepth: 8,
});
export interface ImageFolderLimits {
  maxFileBytes: number;
  maxImages: number;
  maxTotalBytes: number;
  maxDepth: number;
}

/** Seed of the fixed order images are returned in (see `imageFolderOrder`). */
export const IMAGE_FOLDER_ORDER_SEED = 0x1f01de;
const READ_AHEAD = 8;

export interface ImageFile {
  /** Path relative to the dataset folder, '/'-separated: `train/cat/001.png`. */
  rel: string;
  label: number;
}

export interface ImageFolderListing {
  /** Train class folders, ascending by id. */
  classes: Array<{ name: string; id: number }>;
  /** Each split's images in (class id, relative path) order. */
  train: ImageFile[];
  test: ImageFile[];
}

/** Compare by UTF-8 bytes = by code point, as Python's `sorted` orders ImageFolder's names. */
export function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Class folder names -> ids. If every name is a decimal integer 0..255 without leading zeros
 * (`0`..`9` of MNIST exported as folders), the id is that number; otherwise names are sorted by
 * code point and numbered 0..K-1, exactly as ImageFolder's `class_to_idx`. At most 256 classes.
 */
export function classIdsFromNames(names: readonly string[], where = 'train/'): Map<string, number> {
  if (names.length > 256) {
    throw new DatasetError(
      `${where}: ${names.length} class folders; at most 256 classes are supported (labels are bytes)`,
    );
  }
  const sorted = [...names].sort(byCodePoint);
  const numeric = sorted.every((n) => /^(0|[1-9][0-9]{0,2})$/.test(n) && Number(n) <= 255);
  return new Map(sorted.map((n, i) => [n, numeric ? Number(n) : i]));
}

async function entries(path: string, what: string, max: number): Promise<Dirent[]> {
  const out: Dirent[] = [];
  try {
    for await (const e of await opendir(path)) {
      out.push(e);
      if (out.length > max) throw new DatasetError(`${path}: more than ${max} entries`);
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(
      `${path}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that it exists and is readable`,
    );
  }
  return out;
}

async function isDir(path: string, e: Dirent): Promise<boolean> {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** The .png files below one class folder, relative to `root`, sorted. */
async function pngFiles(
  root: string,
  rel: string,
  depth: number,
  budget: number,
  limits: ImageFolderLimits,
): Promise<string[]> {
  const found: string[] = [];
  for (const e of await entries(join(root, rel), 'the folder', limits.maxImages)) {
    if (e.name.startsWith('.')) continue;
    const r = `${rel}/${e.name}`;
    if (await isDir(join(root, r), e)) {
      if (depth >= limits.maxDepth)
        throw new DatasetError(`${join(root, r)}: folders nest deeper than ${depth} levels`);
      found.push(...(await pngFiles(root, r, depth + 1, budget - found.length, limits)));
    } else if (/\.png$/i.test(e.name)) found.push(r);
    else {
      throw new DatasetError(
        `${join(root, r)}: not a .png file; the image-folder layout reads PNG images only: convert it to PNG or move it out of the dataset folder`,
      );
    }
    if (found.length > budget)
      throw new DatasetError(
        `${root}: more than ${limits.maxImages} images; use a smaller dataset`,
      );
  }
  return found.sort(byCodePoint);
}

async function classFolders(root: string, split: string): Promise<string[]> {
  const names: string[] = [];
  for (const e of await entries(join(root, split), `the ${split}/ folder`, 100_000)) {
    if (!e.name.startsWith('.') && (await isDir(join(root, split, e.name), e))) names.push(e.name);
  }
  if (names.length === 0) {
    throw new DatasetError(
      `${join(root, split)}: no class folders; put each class's images in ${split}/<class name>/*.png`,
    );
  }
  return names;
}

/** List an image-folder dataset: classes, and each split's files with labels. */
export async function listImageFolder(
  dir: string,
  limits: ImageFolderLimits = IMAGE_FOLDER_LIMITS,
): Promise<ImageFolderListing> {
  const trainNames = await classFolders(dir, 'train');
  const ids = classIdsFromNames(trainNames, join(dir, 'train'));
  const testNames = await classFolders(dir, 'test');
  const unknown = testNames.filter((n) => !ids.has(n)).sort(byCodePoint);
  if (unknown.length > 0) {
    throw new DatasetError(
      `${join(dir, 'test')}: class folder(s) ${unknown.join(', ')} have no folder of that name in train/; test classes must be training classes`,
    );
  }
  let budget = limits.maxImages;
  const classes = [...ids].map(([name, id]) => ({ name, id })).sort((a, b) => a.id - b.id);
  const split = async (s: 'train' | 'test', names: string[]) => {
    const files: ImageFile[] = [];
    for (const c of classes.filter((x) => names.includes(x.name))) {
      const pngs = await pngFiles(dir, `${s}/${c.name}`, 1, budget, limits);
      if (pngs.length === 0) {
        throw new DatasetError(
          `${join(dir, s, c.name)}: class folder holds no .png images; add images or remove the folder`,
        );
      }
      budget -= pngs.length;
      for (const rel of pngs) files.push({ rel, label: c.id });
    }
    return files;
  };
  return { classes, train: await split('train', trainNames), test: await split('test', testNames) };
}

/** The fixed order a split of `n` images is returned in: position i holds sorted image order[i]. */
export function imageFolderOrder(n: number, split: 'train' | 'test'): Int32Array {
  return permutation(n, createRng(deriveSeed(IMAGE_FOLDER_ORDER_SEED, split)));
}

async function readBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new DatasetError(
      `${path}: cannot read the image (${(e as NodeJS.ErrnoException).code}); check its permissions`,
    );
  }
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) {
      throw new DatasetError(
        `${path}: ${size} bytes, over the ${maxBytes}-byte limit for one image; downscale it`,
      );
    }
    const buf = new Uint8Array(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Reads images in order with a few reads in flight; each file's bytes live until decoded. */
async function* readInOrder(dir: string, files: readonly ImageFile[], maxBytes: number) {
  const window: Promise<Uint8Array>[] = [];
  let next = 0;
  for (let i = 0; i < files.length; i++) {
    while (window.length < READ_AHEAD && next < files.length) {
      const p = readBounded(join(dir, files[next++]!.rel), maxBytes);
      p.catch(() => undefined); // awaited below; avoids an unhandled rejection meanwhile
      window.push(p);
    }
    yield await window.shift()!;
  }
}

/** Read both splits of an image-folder dataset into memory. */
export async function readImageFolder(
  dir: string,
  limits: ImageFolderLimits = IMAGE_FOLDER_LIMITS,
): Promise<{ train: Dataset; test: Dataset; classNames: string[]; classIds: number[] }> {
  const listing = await listImageFolder(dir, limits);
  const total = listing.train.length + listing.test.length;
  let shape: { w: number; h: number; c: 1 | 3; first: string } | undefined;
  const out = { train: new Uint8Array(0), test: new Uint8Array(0) };
  const toRgb = (gray: Uint8Array) => {
    const rgb = new Uint8Array(gray.length * 3);
    for (let i = 0; i < gray.length; i++) rgb.fill(gray[i]!, 3 * i, 3 * i + 3);
    return rgb;
  };
  const checkTotal = (px: number) => {
    if (total * px > limits.maxTotalBytes) {
      throw new DatasetError(
        `${dir}: ${total} images of ${px} bytes need ${total * px} bytes, over the ${limits.maxTotalBytes}-byte limit; downscale the images or use fewer`,
      );
    }
  };
  for (const split of ['train', 'test'] as const) {
    const files = listing[split];
    const order = imageFolderOrder(files.length, split);
    const slot = new Int32Array(files.length);
    order.forEach((src, dst) => {
      slot[src] = dst;
    });
    let i = 0;
    for await (const bytes of readInOrder(dir, files, limits.maxFileBytes)) {
      const file = join(dir, files[i]!.rel);
      const img = decodePngImage(bytes, file);
      if (!shape) {
        shape = { w: img.width, h: img.height, c: img.channels, first: file };
        checkTotal(img.width * img.height * img.channels);
        out.train = new Uint8Array(listing.train.length * img.width * img.height * img.channels);
        out.test = new Uint8Array(listing.test.length * img.width * img.height * img.channels);
      } else if (img.width !== shape.w || img.height !== shape.h) {
        throw new DatasetError(
          `${file}: ${img.width}x${img.height} pixels, but this dataset's images are ${shape.w}x${shape.h} (as ${shape.first}); resize every image to one size`,
        );
      }
      let pixels = img.pixels;
      if (img.channels === 3 && shape.c === 1) {
        checkTotal(shape.w * shape.h * 3);
        out.train = toRgb(out.train);
        out.test = toRgb(out.test);
        shape.c = 3;
      } else if (img.channels === 1 && shape.c === 3) pixels = toRgb(pixels);
      out[split].set(pixels, slot[i]! * pixels.length);
      i++;
    }
  }
  const s = shape;
  if (!s) throw new DatasetError(`${dir}: no images`); // unreachable: empty classes are refused
  const dataset = (split: 'train' | 'test'): Dataset => {
    const files = listing[split];
    const order = imageFolderOrder(files.length, split);
    return {
      name: basename(dir),
      images: out[split],
      labels: Uint8Array.from(order, (src) => files[src]!.label),
      count: files.length,
      imageShape: [s.h, s.w, s.c],
    };
  };
  return {
    train: dataset('train'),
    test: dataset('test'),
    classNames: listing.classes.map((c) => c.name),
    classIds: listing.classes.map((c) => c.id),
  };
}
