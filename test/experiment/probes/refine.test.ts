import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SoftSet } from '../../../src/client/merge';
import { loadNetwork } from '../../../src/core/model-folder';
import { refineSet } from '../../../src/experiment/probes/refine';
import { folderReader } from '../../../src/node/fs-atomic';
import { initWasmBackend } from '../../../src/node/wasm-backend';
import { syntheticImages, writeTinyNetwork } from '../../fixtures/tiny-network';

beforeAll(async () => {
  await initWasmBackend();
});

describe('the refine probe', () => {
  it("raises the sender's log-probability of each sample's top class; labels stay distributions; no leak", async () => {
    const classes = [1, 3, 5];
    const { dir } = await writeTinyNetwork({ classes });
    const net = await loadNetwork(folderReader(dir));
    const data = syntheticImages(classes, 30, 5);
    const labelsOf = (images: Uint8Array) =>
      tf.tidy(() => {
        const x = tf.div(tf.tensor4d(images, [data.count, 28, 28, 1], 'int32'), 255);
        return (net.classifier.predict(x) as tf.Tensor).dataSync() as Float32Array;
      });
    const set: SoftSet = {
      source: 'test',
      networkId: 'net-a',
      classIds: classes,
      imageShape: [28, 28, 1],
      count: data.count,
      images: data.images,
      softLabels: labelsOf(data.images),
    };
    const before = tf.memory().numTensors;
    const out = refineSet(set, net.classifier, 0.05);
    expect(tf.memory().numTensors).toBe(before);
    expect(out.images.length).toBe(set.images.length);
    expect(out.images).not.toEqual(set.images);
    const again = labelsOf(out.images);
    let gained = 0;
    for (let i = 0; i < data.count; i++) {
      const row = Array.from(set.softLabels.subarray(i * 3, i * 3 + 3));
      const top = row.indexOf(Math.max(...row));
      if (again[i * 3 + top]! > row[top]!) gained++;
      const sum = out.softLabels.subarray(i * 3, i * 3 + 3).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
      // the returned labels are the sender's answers for the refined images
      expect(out.softLabels[i * 3 + top]).toBeCloseTo(again[i * 3 + top]!, 5);
    }
    expect(gained).toBeGreaterThan(data.count * 0.9);
    net.classifier.dispose();
    net.decoder.dispose();
  });
});
