import '@tensorflow/tfjs-layers';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALIBRATION_FILE } from '../../src/core/calibration';
import { MANIFEST_FILE } from '../../src/core/manifest';
import { loadNetwork, ModelFolderError } from '../../src/core/model-folder';
import { createRng } from '../../src/core/rng';
import type { Dataset } from '../../src/data/dataset';
import { folderReader, pathExists } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { calibrateNetworkFolder } from '../../src/train/calibrate-folder';
import { writeTinyNetwork } from '../fixtures/tiny-network';

beforeAll(async () => {
  await initWasmBackend();
});

/** `count` seeded 28x28x1 images cycling through `labels`, each class a bright block of its own. */
function images(
  labels: readonly number[],
  count: number,
  seed = 1,
  side = 28,
): Omit<Dataset, 'name'> {
  const rng = createRng(seed);
  const px = side * side;
  const out = new Uint8Array(count * px);
  const lab = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % labels.length;
    lab[i] = labels[k]!;
    const o = 2 + ((k * 7) % (side - 10));
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const block = y >= o && y < o + 8 && x >= o && x < o + 8;
        out[i * px + y * side + x] = block ? 160 + rng.int(96) : rng.int(64);
      }
    }
  }
  return { images: out, labels: lab, count, imageShape: [side, side, 1] };
}

/** Every file under `dir` (relative path -> bytes). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out[relative(dir, p)] = (await readFile(p)).toString('base64');
  }
  return out;
}

describe('calibrateNetworkFolder', () => {
  it("writes a calibrated copy fitted on the network's own classes; the source is untouched; no tensor leaks", async () => {
    const { dir, manifest } = await writeTinyNetwork({ classes: [1, 3, 5] });
    const before = await snapshot(dir);
    const out = join(dirname(dir), 'calibrated');
    const tensors = tf.memory().numTensors;
    // 90 images: 72 of the network's classes, 18 of class 7 (ignored)
    const { manifest: got, calibration } = await calibrateNetworkFolder({
      modelDir: dir,
      outDir: out,
      images: images([1, 3, 7, 5, 1], 90),
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await snapshot(dir)).toEqual(before);

    // the manifest is the source's, plus calibration.json's hash
    const { files, ...rest } = got;
    const { files: srcFiles, ...srcRest } = manifest;
    expect(rest).toEqual(srcRest);
    expect(Object.keys(files)).toEqual([CALIBRATION_FILE, ...Object.keys(srcFiles).sort()]);
    for (const [k, v] of Object.entries(srcFiles)) expect(files[k]).toBe(v);
    const after = await snapshot(out);
    for (const k of Object.keys(srcFiles)) expect(after[k]).toBe(before[k]);
    expect(Object.keys(after).sort()).toEqual([...Object.keys(files), MANIFEST_FILE].sort());
    expect((await readdir(dirname(dir))).filter((n) => n.includes('.tmp-'))).toEqual([]);

    const net = await loadNetwork(folderReader(out));
    expect(net.calibration?.classes).toEqual([1, 3, 5]);
    expect(net.calibration?.validationCount).toBe(72);
    expect(net.calibration).toEqual(calibration);
    net.classifier.dispose();
    net.decoder.dispose();
  });

  it('replaces an existing calibration.json in the copy only', async () => {
    const { dir } = await writeTinyNetwork({ classes: [0, 2] });
    const first = join(dirname(dir), 'first');
    await calibrateNetworkFolder({ modelDir: dir, outDir: first, images: images([0, 2], 40) });
    const firstFiles = await snapshot(first);
    const second = join(dirname(dir), 'second');
    const { manifest: m } = await calibrateNetworkFolder({
      modelDir: first,
      outDir: second,
      images: images([2, 0], 30, 3),
    });
    expect(await snapshot(first)).toEqual(firstFiles);
    expect(m.files[CALIBRATION_FILE]).not.toBe(
      JSON.parse(Buffer.from(firstFiles[MANIFEST_FILE]!, 'base64').toString()).files[
        CALIBRATION_FILE
      ],
    );
    const net = await loadNetwork(folderReader(second));
    expect(net.calibration?.validationCount).toBe(30);
    net.classifier.dispose();
    net.decoder.dispose();
  });

  it('refuses images of no own class, another image shape, an overlapping output and a tampered source, leaking nothing', async () => {
    const { dir } = await writeTinyNetwork({ classes: [1, 3, 5] });
    const out = join(dirname(dir), 'out');
    const tensors = tf.memory().numTensors;
    const run = (imgs: Omit<Dataset, 'name'>, outDir = out, modelDir = dir) =>
      calibrateNetworkFolder({ modelDir, outDir, images: imgs });
    await expect(run(images([0, 7], 20))).rejects.toThrow(
      /none of the 20 images is of net-a's classes 1,3,5/,
    );
    await expect(run(images([1, 3], 20, 1, 14))).rejects.toThrow(
      /images are 14x14x1 but net-a was trained on 28x28x1 images/,
    );
    await expect(run(images([1], 5), dir)).rejects.toThrow(/would overwrite the model folder/);
    await expect(run(images([1], 5), dirname(dir))).rejects.toThrow(
      /would overwrite the model folder/,
    );
    const weights = join(dir, 'classifier', 'weights.bin');
    const bytes = await readFile(weights);
    bytes[3] = (bytes[3]! + 1) % 256;
    await writeFile(weights, bytes);
    const tampered = run(images([1], 5));
    await expect(tampered).rejects.toThrow(ModelFolderError);
    await expect(run(images([1], 5))).rejects.toThrow(/classifier\/weights\.bin: sha256/);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await pathExists(out)).toBe(false);
  });
});
