import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetDigest } from '../../src/data/digest';
import { idxFolderFiles } from '../../src/data/idx-write';
import { runScript } from './run-script';

const exportCli = (...args: string[]) => runScript('export-image-folder.ts', ...args);

describe('npm run data:image-folder (CLI)', () => {
  it('refuses a non-empty --out, then exports an IDX folder as PNG folders', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ks-export-cli-'));
    const src = join(root, 'idx');
    await mkdir(src);
    const files = idxFolderFiles({
      train: {
        images: new Uint8Array(3 * 4).fill(7),
        labels: Uint8Array.from([0, 2, 2]),
        count: 3,
      },
      test: { images: new Uint8Array(4), labels: Uint8Array.from([2]), count: 1 },
      imageShape: [2, 2, 1],
    });
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(src, name), bytes);
    const out = join(root, 'png');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'mine');
    const busy = await exportCli('--data-dir', src, '--out', out);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/--out .*png is not empty; choose another folder or pass --force/);
    expect(busy.err).not.toMatch(/ at .*\.ts:\d+/);
    expect(await readdir(out)).toEqual(['keep.txt']);

    const r = await exportCli('--data-dir', src, '--out', out, '--force');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toEqual({
      out,
      train: 3,
      test: 1,
      files: 4,
      sha256: (await datasetDigest(out)).sha256,
    });
    expect((await readdir(join(out, 'train'))).sort()).toEqual(['0', '2']);
    expect(await readdir(join(out, 'test', '2'))).toEqual(['0.png']);
  });
});
