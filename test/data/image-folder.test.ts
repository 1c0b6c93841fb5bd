import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../src/core/png';
import { DatasetError, loadDataset } from '../../src/data/idx';
import { idxFolderFiles } from '../../src/data/idx-write';
import {
  classIdsFromNames,
  IMAGE_FOLDER_LIMITS,
  imageFolderOrder,
  readImageFolder,
} from '../../src/data/image-folder';

/** Writes `files` (relative path -> bytes) into a fresh temp folder. */
async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-imgf-'));
  for (const [rel, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), bytes);
  }
  return dir;
}

/** A 2x3 grayscale image whose every pixel is `v`. */
const gray = (v: number, w = 3, h = 2) => encodePng(new Uint8Array(w * h).fill(v), w, h, 1);
const rgb = (r: number, g: number, b: number) =>
  encodePng(
    Uint8Array.from({ length: 6 * 3 }, (_, i) => [r, g, b][i % 3]!),
    3,
    2,
    3,
  );

/** Labels and first pixel of each image, in the loader's order. */
function seen(d: { labels: Uint8Array; images: Uint8Array; count: number }, px: number) {
  return Array.from({ length: d.count }, (_, i) => [d.labels[i], d.images[i * px]]);
}

describe('class folder names -> ids', () => {
  it('sorts names by code point and numbers them 0..K-1, as ImageFolder', () => {
    expect([...classIdsFromNames(['dog', 'cat', 'Zebra', 'émeu'])]).toEqual([
      ['Zebra', 0],
      ['cat', 1],
      ['dog', 2],
      ['émeu', 3],
    ]);
    // not all canonical integers: sorted as strings
    expect([...classIdsFromNames(['10', '2', '01'])]).toEqual([
      ['01', 0],
      ['10', 1],
      ['2', 2],
    ]);
    expect([...classIdsFromNames(['1', '256'])]).toEqual([
      ['1', 0],
      ['256', 1],
    ]);
  });

  it('keeps the numbers when every name is an integer 0..255', () => {
    expect([...classIdsFromNames(['9', '10', '0', '255'])]).toEqual([
      ['0', 0],
      ['10', 10],
      ['255', 255],
      ['9', 9],
    ]);
  });

  it('refuses more than 256 classes', () => {
    const names = Array.from({ length: 257 }, (_, i) => `c${i}`);
    expect(() => classIdsFromNames(names, 'd/train')).toThrow(/d\/train: 257 class folders/);
  });
});

describe('image-folder datasets through loadDataset', () => {
  it('reads grayscale folders with numeric class names, keeping the numbers as labels', async () => {
    const dir = await folder({
      'train/3/a.png': gray(30),
      'train/3/b.png': gray(31),
      'train/7/a.png': gray(70),
      'train/7/sub/c.png': gray(71), // images below a class folder count, as in ImageFolder
      'train/.hidden/x.png': gray(1),
      'train/7/.DS_Store': 'junk',
      'train/notes.txt': 'files beside class folders are ignored',
      'test/7/z.png': gray(77),
    });
    const d = await loadDataset({ dataDir: dir });
    expect(d.layout).toBe('image-folder');
    expect(d.classIds).toEqual([3, 7]);
    expect(d.classNames).toEqual(['3', '7']);
    expect(d.train.imageShape).toEqual([2, 3, 1]);
    expect(d.train.count).toBe(4);
    // sorted (class, path) order, then the documented fixed shuffle
    const sorted = [
      [3, 30],
      [3, 31],
      [7, 70],
      [7, 71],
    ];
    const order = imageFolderOrder(4, 'train');
    expect(seen(d.train, 6)).toEqual(Array.from(order, (s) => sorted[s]));
    expect(seen(d.test, 6)).toEqual([[7, 77]]);
    expect(d.train.images.subarray(0, 6).every((v) => v === d.train.images[0])).toBe(true);
  });

  it('maps named classes by sorted name; test classes may be a subset', async () => {
    const dir = await folder({
      'train/dog/1.png': gray(2),
      'train/cat/1.png': gray(1),
      'train/ant/1.png': gray(0),
      'test/dog/1.png': gray(12),
    });
    const d = await loadDataset({ dataDir: dir });
    expect(d.classIds).toEqual([0, 1, 2]);
    expect(d.classNames).toEqual(['ant', 'cat', 'dog']);
    expect(Array.from(d.test.labels)).toEqual([2]);
    expect(new Set(seen(d.train, 6).map(String))).toEqual(new Set(['0,0', '1,1', '2,2']));
  });

  it('reads RGB; grayscale images in a colour dataset are repeated into R, G, B', async () => {
    const dir = await folder({
      'train/a/1.png': gray(5),
      'train/b/1.png': rgb(10, 20, 30),
      'test/a/1.png': gray(9),
    });
    const d = await readImageFolder(dir);
    expect(d.train.imageShape).toEqual([2, 3, 3]);
    const img = (ds: typeof d.train, label: number) => {
      const i = Array.from(ds.labels).indexOf(label);
      return Array.from(ds.images.subarray(i * 18, i * 18 + 3));
    };
    expect(img(d.train, 0)).toEqual([5, 5, 5]);
    expect(img(d.train, 1)).toEqual([10, 20, 30]);
    expect(img(d.test, 0)).toEqual([9, 9, 9]);
    expect(d.test.images.length).toBe(18);
  });

  it('names the file and the fault for broken files and folders', async () => {
    const base = { 'train/a/1.png': gray(1), 'train/b/1.png': gray(2), 'test/a/1.png': gray(3) };
    const load = async (patch: Record<string, Uint8Array | string>) =>
      loadDataset({ dataDir: await folder({ ...base, ...patch }) });
    const good = gray(4);
    await expect(load({ 'train/b/2.png': good.subarray(0, good.length - 16) })).rejects.toThrow(
      /train\/b\/2\.png: truncated PNG/,
    );
    await expect(load({ 'train/b/2.png': 'GIF89a...' })).rejects.toThrow(
      /train\/b\/2\.png: a GIF image; the image-folder layout reads PNG images only/,
    );
    await expect(load({ 'train/b/2.jpg': 'x' })).rejects.toThrow(
      /train\/b\/2\.jpg: not a \.png file; .*convert it to PNG or move it out/,
    );
    await expect(load({ 'test/b/9.png': gray(1, 4, 2) })).rejects.toThrow(
      /test\/b\/9\.png: 4x2 pixels, but this dataset's images are 3x2 \(as .*train\/a\/1\.png\)/,
    );
    const dir = await folder(base);
    await mkdir(join(dir, 'train', 'empty'));
    await expect(loadDataset({ dataDir: dir })).rejects.toThrow(
      /train\/empty: class folder holds no \.png images; add images or remove the folder/,
    );
    await expect(load({ 'test/c/1.png': gray(1) })).rejects.toThrow(
      /test: class folder\(s\) c have no folder of that name in train\//,
    );
    await expect(load({ 'train-labels-idx1-ubyte': 'x' })).rejects.toThrow(
      /holds both IDX files and train\/ and test\/ folders/,
    );
    await expect(
      loadDataset({ dataDir: await folder({ 'train/a/1.png': gray(1) }) }),
    ).rejects.toThrow(/has a train\/ folder but no test\/ folder/);
    await expect(loadDataset({ dataDir: await folder({ 'x.txt': '' }) })).rejects.toThrow(
      /none of train-images-idx3-ubyte, train-images-idx4-ubyte \(or \.gz\) found and no train\/ and test\/ folders; a dataset folder holds either the four standard IDX files .* or image folders train\/<class>\/\*\.png/,
    );
    const file = join(await folder({ f: 'x' }), 'f');
    await expect(loadDataset({ dataDir: file })).rejects.toThrow(
      /f: cannot read the folder \(it is a file\)/,
    );
    await expect(load({ 'test/a/2.png': gray(1) })).resolves.toMatchObject({ classIds: [0, 1] });
  });

  it('bounds file size, image count and nesting', async () => {
    const dir = await folder({
      'train/a/1.png': gray(1),
      'train/a/2.png': gray(2),
      'test/a/x/y/1.png': gray(3),
    });
    const limits = { ...IMAGE_FOLDER_LIMITS };
    await expect(readImageFolder(dir, { ...limits, maxFileBytes: 50 })).rejects.toThrow(
      /train\/a\/1\.png: \d+ bytes, over the 50-byte limit for one image/,
    );
    await expect(readImageFolder(dir, { ...limits, maxImages: 2 })).rejects.toThrow(
      /ks-imgf-\w+: more than 2 images; use a smaller dataset/,
    );
    await expect(readImageFolder(dir, { ...limits, maxTotalBytes: 17 })).rejects.toThrow(
      /3 images of 6 bytes need 18 bytes, over the 17-byte limit/,
    );
    await expect(readImageFolder(dir, { ...limits, maxDepth: 2 })).rejects.toThrow(
      /test\/a\/x\/y: folders nest deeper than 2 levels/,
    );
    expect((await readImageFolder(dir)).test.count).toBe(1);
  });

  it('is the DatasetError the CLIs print without a stack', async () => {
    const err = await loadDataset({ dataDir: await folder({ 'train/a/1.png': 'x' }) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasetError);
  });
});

describe('IDX and image folders hold the same data', () => {
  it('the IDX reader still reads what idxFolderFiles writes (layout: idx)', async () => {
    const files = idxFolderFiles({
      train: { images: new Uint8Array(2 * 6).fill(9), labels: Uint8Array.from([0, 1]), count: 2 },
      test: { images: new Uint8Array(6), labels: Uint8Array.from([1]), count: 1 },
      imageShape: [2, 3, 1],
    });
    const d = await loadDataset({ dataDir: await folder(files) });
    expect(d.layout).toBe('idx');
    expect(d.classNames).toBeUndefined();
    expect(d.classIds).toEqual([0, 1]);
  });
});
