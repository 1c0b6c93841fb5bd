import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALIBRATION_FILE } from '../../src/core/calibration';
import { loadNetwork } from '../../src/core/model-folder';
import { createRng } from '../../src/core/rng';
import { idxFolderFiles } from '../../src/data/idx-write';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { writeTinyNetwork } from '../fixtures/tiny-network';
import { runScript } from './run-script';

const calibrate = (...args: string[]) => runScript('calibrate.ts', ...args);

/** An IDX dataset folder of seeded noise images with these labels (train and test). */
async function writeIdx(dir: string, labels: number[], side = 28): Promise<void> {
  const rng = createRng(2);
  const split = () => ({
    images: Uint8Array.from({ length: labels.length * side * side }, () => rng.int(256)),
    labels: Uint8Array.from(labels),
    count: labels.length,
  });
  await mkdir(dir, { recursive: true });
  const files = idxFolderFiles({ train: split(), test: split(), imageShape: [side, side, 1] });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
}

const noStack = (err: string) => expect(err).not.toMatch(/ at .*\.ts:\d+/);

describe('npm run calibrate (CLI)', () => {
  let tmp: string;
  let net: string;
  beforeAll(async () => {
    await initWasmBackend();
    tmp = await mkdtemp(join(tmpdir(), 'ks-calibrate-cli-'));
    net = (await writeTinyNetwork({ dir: join(tmp, 'net-a'), classes: [1, 3, 5] })).dir;
    // 40 images of each split: 30 of the network's classes, 10 of class 7
    await writeIdx(
      join(tmp, 'data'),
      Array.from({ length: 40 }, (_, i) => [1, 3, 5, 7][i % 4]!),
    );
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('prints --help naming every flag and what the images must be; rejects bad flags', async () => {
    const h = await calibrate('--help');
    expect(h.code).toBe(0);
    for (const flag of [
      '--model-dir',
      '--data-dir',
      '--out',
      '--force',
      '--split',
      '--max-images',
    ]) {
      expect(h.out).toContain(flag);
    }
    expect(h.out).toMatch(/did NOT train on/);
    const bad = await calibrate('--split', 'val', '--max-images', '0');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--model-dir: /);
    expect(bad.err).toMatch(/--split: /);
    expect(bad.err).toMatch(/--max-images: /);
    noStack(bad.err);
  });

  it('refuses a missing model folder and a non-empty --out, writing nothing', async () => {
    const data = join(tmp, 'data');
    const missing = await calibrate(
      ...['--model-dir', join(tmp, 'nope'), '--data-dir', data, '--out', join(tmp, 'o1')],
    );
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--model-dir .*nope: no such folder/);
    noStack(missing.err);
    const busy = join(tmp, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'keep.txt'), 'mine');
    const refused = await calibrate('--model-dir', net, '--data-dir', data, '--out', busy);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--out .*busy is not empty .*--force/);
    noStack(refused.err);
    expect(await readdir(busy)).toEqual(['keep.txt']);
    const inside = await calibrate('--model-dir', net, '--data-dir', data, '--out', net);
    expect(inside.code).toBe(1);
    expect(inside.err).toMatch(/the same folder as --model-dir/);
  });

  it("calibrates on the network's own classes of the chosen split; the model folder is untouched", async () => {
    const before = await readFile(join(net, 'manifest.json'), 'utf8');
    const out = join(tmp, 'calibrated');
    const args = ['--model-dir', net, '--data-dir', join(tmp, 'data'), '--out', out];
    const r = await calibrate(...args, '--split', 'test', '--max-images', '20');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/test split: 40 images, 30 of net-a's classes; fitting on 20/);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({ network: 'net-a', classes: [1, 3, 5], split: 'test' });
    expect(summary.images).toBe(20);
    const loaded = await loadNetwork(folderReader(out));
    expect(loaded.calibration?.validationCount).toBe(20);
    expect(loaded.manifest.files[CALIBRATION_FILE]).toBe(summary.calibrationSha256);
    loaded.classifier.dispose();
    loaded.decoder.dispose();
    expect(await readFile(join(net, 'manifest.json'), 'utf8')).toBe(before);
    expect((await readdir(net)).sort()).toEqual(['classifier', 'generator', 'manifest.json']);
  }, 60_000);

  it('refuses data without images of its classes, or of another shape, clearly', async () => {
    await writeIdx(join(tmp, 'others'), [0, 2, 4, 0]);
    await writeIdx(join(tmp, 'small'), [1, 3, 5, 1], 14);
    const out = join(tmp, 'o2');
    const none = await calibrate(
      '--model-dir',
      net,
      '--data-dir',
      join(tmp, 'others'),
      '--out',
      out,
    );
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/train split .* holds no images of net-a's classes 1,3,5/);
    noStack(none.err);
    const small = await calibrate(
      '--model-dir',
      net,
      '--data-dir',
      join(tmp, 'small'),
      '--out',
      out,
    );
    expect(small.code).toBe(1);
    expect(small.err).toMatch(/images are 14x14x1 but net-a was trained on 28x28x1/);
    noStack(small.err);
  }, 60_000);
});
