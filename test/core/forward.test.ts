import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../../src/core/forward';
import { portableKernels } from '../../src/core/kernels/index';
import { loadNetwork } from '../../src/core/model-folder';
import { buildClassifier, buildDecoder } from '../../src/core/models';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';

beforeAll(async () => {
  await initWasmBackend();
});

/** The output bytes of `f` on the portable kernels (what packets are made with). */
function bytesOf(f: () => tf.Tensor): Buffer {
  return portableKernels(() => {
    const t = tf.tidy(f);
    const b = Buffer.from(t.dataSync().buffer.slice(0));
    t.dispose();
    return b;
  });
}

describe('forward (the sampler inference pass, in chunks of INFERENCE_CHUNK)', () => {
  it.each(['transpose', 'resize'] as const)(
    'gives the bytes of predict for a %s decoder and a classifier, no tensor left',
    (upsampling) => {
      const decoder = buildDecoder({
        imageShape: [28, 28, 1],
        latentSize: 8,
        filters: [8, 8, 4, 4],
        upsampling,
        seed: 3,
      });
      const { model: classifier } = buildClassifier({
        imageShape: [28, 28, 1],
        numClasses: 3,
        filters: [4, 8, 8, 8],
        denseUnits: 16,
        seed: 4,
      });
      // 150: more than two chunks, not a multiple of 32 or 64.
      const z = tf.randomNormal([150, 8], 0, 1, 'float32', 5);
      const before = tf.memory().numTensors;
      const img = bytesOf(() => decoder.predict(z) as tf.Tensor);
      expect(bytesOf(() => forward(decoder, z)).equals(img)).toBe(true);
      const x = portableKernels(() => decoder.predict(z) as tf.Tensor);
      const probs = bytesOf(() => classifier.predict(x) as tf.Tensor);
      expect(bytesOf(() => forward(classifier, x)).equals(probs)).toBe(true);
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([z]);
      decoder.dispose();
      classifier.dispose();
    },
  );

  it('gives the bytes of predict on the demo network net-a, batch of 128', async () => {
    const net = await loadNetwork(folderReader('models/net-a'));
    const z = tf.randomNormal([128, net.manifest.generator.latentSize], 0, 1, 'float32', 6);
    const img = bytesOf(() => net.decoder.predict(z) as tf.Tensor);
    expect(bytesOf(() => forward(net.decoder, z)).equals(img)).toBe(true);
    const x = portableKernels(() => net.decoder.predict(z) as tf.Tensor);
    const probs = bytesOf(() => net.classifier.predict(x) as tf.Tensor);
    expect(bytesOf(() => forward(net.classifier, x)).equals(probs)).toBe(true);
    tf.dispose([z, x]);
  });
});
