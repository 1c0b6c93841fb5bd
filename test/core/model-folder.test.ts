import '@tensorflow/tfjs-backend-cpu';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNetwork, ModelFolderError } from '../../src/core/model-folder';
import { folderReader } from '../../src/node/fs-atomic';
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
