import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset';
import { loadDataset } from '../../src/data/idx';
import { idxFolderFiles } from '../../src/data/idx-write';
import { imageFolderOrder } from '../../src/data/image-folder';
import { writeImageFolder } from '../../src/data/image-folder-write';

/** A synthetic split of `count` images of h x w x c with seeded-looking bytes and labels. */
function split(count: number, px: number, classes: number[], salt: number) {
  return {
    images: Uint8Array.from({ length: count * px }, (_, i) => (i * 31 + salt * 7 + (i >> 5)) % 256),
    labels: Uint8Array.from({ length: count }, (_, i) => classes[(i * 5 + salt) % classes.length]!),
    count,
  };
}

/** The documented image-folder order of a split read from IDX: (label, index) sorted, shuffled. */
function expected(ds: Dataset, which: 'train' | 'test') {
  const px = ds.images.length / ds.count;
  const sorted = Array.from({ length: ds.count }, (_, i) => i).sort(
    (a, b) => ds.labels[a]! - ds.labels[b]! || a - b,
  );
  const order = imageFolderOrder(ds.count, which);
  const images = new Uint8Array(ds.images.length);
  const labels = new Uint8Array(ds.count);
  order.forEach((s, d) => {
    const src = sorted[s]!;
    images.set(ds.images.subarray(src * px, (src + 1) * px), d * px);
    labels[d] = ds.labels[src]!;
  });
  return { images, labels };
}

async function idxDir(shape: [number, number, number], classes: number[]) {
  const px = shape[0] * shape[1] * shape[2];
  const dir = await mkdtemp(join(tmpdir(), 'ks-rt-idx-'));
  const files = idxFolderFiles({
    train: split(40, px, classes, 1),
    test: split(12, px, classes, 2),
    imageShape: shape,
  });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return dir;
}

describe('IDX -> PNG image folders -> load', () => {
  for (const shape of [
    [5, 4, 1],
    [3, 6, 3],
  ] as [number, number, number][]) {
    it(`gives identical bytes and labels (${shape.join('x')})`, async () => {
      const source = await loadDataset({ dataDir: await idxDir(shape, [1, 4, 7, 12]) });
      const out = join(await mkdtemp(join(tmpdir(), 'ks-rt-png-')), 'png');
      expect(await writeImageFolder(source, out)).toEqual({ files: 52 });
      expect((await readdir(join(out, 'train'))).sort()).toEqual(['1', '12', '4', '7']);
      const back = await loadDataset({ dataDir: out });
      expect(back.layout).toBe('image-folder');
      expect(back.classIds).toEqual([1, 4, 7, 12]);
      expect(back.classNames).toEqual(['1', '4', '7', '12']);
      expect(back.train.imageShape).toEqual(shape);
      for (const which of ['train', 'test'] as const) {
        const want = expected(source[which], which);
        expect(back[which].count).toBe(source[which].count);
        expect(Buffer.from(back[which].labels).equals(Buffer.from(want.labels))).toBe(true);
        expect(Buffer.from(back[which].images).equals(Buffer.from(want.images))).toBe(true);
      }
      // image folders written again from image folders keep names and ids
      const again = join(out, '..', 'again');
      await writeImageFolder(back, again);
      const back2 = await loadDataset({ dataDir: again });
      expect(back2.classNames).toEqual(back.classNames);
      expect(
        Buffer.from(back2.train.images).equals(Buffer.from(expected(back.train, 'train').images)),
      ).toBe(true);
    });
  }

  it('refuses a non-empty output folder unless forced, and leaves it untouched', async () => {
    const source = await loadDataset({ dataDir: await idxDir([2, 2, 1], [0, 1]) });
    const parent = await mkdtemp(join(tmpdir(), 'ks-rt-busy-'));
    const out = join(parent, 'out');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'mine');
    await expect(writeImageFolder(source, out)).rejects.toThrow(/not empty; .*pass --force/);
    expect(await readdir(out)).toEqual(['keep.txt']);
    await writeImageFolder(source, out, { force: true });
    expect((await readdir(out)).sort()).toEqual(['test', 'train']);
    expect(await readdir(parent)).toEqual(['out']); // no temp or old folder left beside it
  });
});
