import '@tensorflow/tfjs-backend-cpu';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALIBRATION_FILE, fitCalibration } from '../../src/core/calibration';
import { MANIFEST_FILE, sha256Hex } from '../../src/core/manifest';
import { loadNetwork, ModelFolderError } from '../../src/core/model-folder';
import { createRng } from '../../src/core/rng';
import { folderReader } from '../../src/node/fs-atomic';
import { exportNetwork } from '../../src/node/model-export';
import { writeTinyNetwork } from '../fixtures/tiny-network';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('model folder', () => {
  it('round-trips a network: same predictions after export and load', async () => {
    const { dir, manifest } = await writeTinyNetwork();
    expect(Object.keys(manifest.files).sort()).toEqual([
      'classifier/model.json',
      'classifier/weights.bin',
      'generator/model.json',
      'generator/weights.bin',
    ]);
    const net = await loadNetwork(folderReader(dir));
    expect(net.digest).toMatch(/^[0-9a-f]{64}$/);
    const z = tf.ones([2, 8]);
    const images = net.decoder.predict(z) as tf.Tensor;
    expect(images.shape).toEqual([2, 28, 28, 1]);
    const probs = net.classifier.predict(images) as tf.Tensor;
    expect(probs.shape).toEqual([2, 3]);
    tf.dispose([z, images, probs]);
    // nothing but the final folder is left beside it
    expect((await readdir(dirname(dir))).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('refuses a tampered weights file and names it', async () => {
    const { dir } = await writeTinyNetwork();
    const path = `${dir}/generator/weights.bin`;
    const bytes = await readFile(path);
    bytes[10] = (bytes[10]! + 1) % 256;
    await writeFile(path, bytes);
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(ModelFolderError);
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(/generator\/weights\.bin: sha256/);
  });

  it('refuses a malformed manifest and says where', async () => {
    const { dir } = await writeTinyNetwork();
    const m = JSON.parse(await readFile(`${dir}/manifest.json`, 'utf8'));
    m.classes = [];
    await writeFile(`${dir}/manifest.json`, JSON.stringify(m));
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(
      /manifest\.json: invalid at classes/,
    );
  });
});

/** A tiny network re-exported with a calibration fitted on seeded noise images of its classes. */
async function writeCalibrated(): Promise<string> {
  const { dir, manifest } = await writeTinyNetwork({ classes: [1, 3, 5] });
  const net = await loadNetwork(folderReader(dir));
  const rng = createRng(3);
  const count = 30;
  const images = Uint8Array.from({ length: count * 784 }, () => rng.int(256));
  const labels = Array.from({ length: count }, (_, i) => manifest.classes[i % 3]!);
  const calibration = fitCalibration(net.classifier, manifest.classes, {
    images,
    labels,
    count,
    imageShape: [28, 28, 1],
  });
  const { files: _files, ...bare } = manifest;
  const out = `${dir}-calibrated`;
  await expect(
    exportNetwork(`${dir}-x`, { ...bare, classes: [1, 3] }, net.classifier, net.decoder, {
      calibration,
    }),
  ).rejects.toThrow(/calibration is for classes 1,3,5, the network has 1,3/);
  await exportNetwork(out, bare, net.classifier, net.decoder, { calibration });
  net.classifier.dispose();
  net.decoder.dispose();
  return out;
}

describe('model folder: calibration.json', () => {
  it('loads a valid one, hashed into manifest.files beside the models', async () => {
    const dir = await writeCalibrated();
    const net = await loadNetwork(folderReader(dir));
    expect(Object.keys(net.manifest.files)).toContain(CALIBRATION_FILE);
    expect(net.calibration?.classes).toEqual([1, 3, 5]);
    expect(net.calibration?.validationCount).toBe(30);
    expect((await readFile(`${dir}/${CALIBRATION_FILE}`, 'utf8')).endsWith('}\n')).toBe(true);
    net.classifier.dispose();
    net.decoder.dispose();
  });

  it('refuses a tampered calibration.json by its sha256, naming the file', async () => {
    const dir = await writeCalibrated();
    const path = `${dir}/${CALIBRATION_FILE}`;
    const cal = JSON.parse(await readFile(path, 'utf8'));
    cal.temperature *= 2;
    await writeFile(path, `${JSON.stringify(cal)}\n`);
    const tensors = tf.memory().numTensors;
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(ModelFolderError);
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(
      /calibration\.json: sha256 [0-9a-f]{64} does not match manifest\.json .*re-export/,
    );
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("refuses a calibration whose classes differ from the manifest's, even when its hash matches", async () => {
    const dir = await writeCalibrated();
    const path = `${dir}/${CALIBRATION_FILE}`;
    const cal = JSON.parse(await readFile(path, 'utf8'));
    cal.classes = [1, 3, 6];
    const bytes = new TextEncoder().encode(`${JSON.stringify(cal)}\n`);
    await writeFile(path, bytes);
    const m = JSON.parse(await readFile(`${dir}/${MANIFEST_FILE}`, 'utf8'));
    m.files[CALIBRATION_FILE] = await sha256Hex(bytes);
    await writeFile(`${dir}/${MANIFEST_FILE}`, JSON.stringify(m));
    const tensors = tf.memory().numTensors;
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(
      /calibration\.json: classes 1,3,6 differ from the manifest's 1,3,5: re-calibrate/,
    );
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
