import '@tensorflow/tfjs-layers';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALIBRATION_FILE } from '../../src/core/calibration';
import type { ArchitectureInfo, GeneratorLoss } from '../../src/core/manifest';
import { loadNetwork } from '../../src/core/model-folder';
import { type DatasetPair, loadDataset } from '../../src/data/idx';
import { folderReader } from '../../src/node/fs-atomic';
import { exportNetwork } from '../../src/node/model-export';
import { initWasmBackend } from '../../src/node/wasm-backend';
import type { TrainEvent } from '../../src/train/progress';
import { trainAll } from '../../src/train/train-all';
import { trainAndExport, trainNetwork } from '../../src/train/train-network';

const TINY: ArchitectureInfo = {
  classifierFilters: [4, 8, 8, 8],
  encoderFilters: [4, 8, 8, 8],
  decoderFilters: [8, 8, 4, 4],
  denseUnits: 16,
  upsampling: 'transpose',
};

let mnist: DatasetPair;
beforeAll(async () => {
  await initWasmBackend();
  mnist = await loadDataset();
});

const tmp = () => mkdtemp(join(tmpdir(), 'ks-train-'));

describe('trainNetwork', () => {
  const variants = (['separate', 'combined'] as const).flatMap((architecture) =>
    (['reconstruction', 'perceptual', 'both'] as GeneratorLoss[]).map((loss) => ({
      architecture,
      loss,
    })),
  );

  it.each(variants)(
    'trains and exports the $architecture / $loss variant without leaking tensors',
    async ({ architecture, loss }) => {
      const dir = join(await tmp(), 'net-x');
      const before = tf.memory().numTensors;
      const events: TrainEvent[] = [];
      const manifest = await trainAndExport(dir, {
        networkId: 'net-x',
        classes: [3, 7],
        data: mnist,
        variant: { architecture, loss, reconstruction: 'bce' },
        architecture: TINY,
        latentSize: 4,
        epochs: 1,
        maxTrainSamples: 256,
        seed: 5,
        onEvent: (e) => events.push(e),
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(manifest.variant).toEqual({ architecture, loss, reconstruction: 'bce' });
      expect(manifest.classes).toEqual([3, 7]);
      expect(manifest.generator.classPriors.map((p) => p.classId)).toEqual([3, 7]);
      expect(manifest.dataset.testCount).toBe(1010 + 1028); // MNIST test images of 3 and 7
      expect(
        events.filter((e) => e.kind === 'epoch-end').map((e) => e.kind === 'epoch-end' && e.stage),
      ).toEqual(['classifier', 'vae']);
      const net = await loadNetwork(folderReader(dir));
      const images = net.decoder.predict(tf.zeros([2, 4])) as tf.Tensor;
      expect(images.shape).toEqual([2, 28, 28, 1]);
      // the exported classifier is trainable again (combined froze its convs only while training the VAE)
      expect(
        net.classifier.layers.filter((l) => l.weights.length > 0).every((l) => l.trainable),
      ).toBe(true);
      tf.dispose(images);
    },
  );

  it('is reproducible: the same seed gives byte-identical weights, another seed does not', async () => {
    const run = async (seed: number) =>
      (
        await trainAndExport(join(await tmp(), 'net-x'), {
          networkId: 'net-x',
          classes: [0, 1],
          data: mnist,
          variant: { architecture: 'separate', loss: 'perceptual', reconstruction: 'bce' },
          architecture: TINY,
          latentSize: 4,
          epochs: 1,
          maxTrainSamples: 128,
          seed,
        })
      ).files;
    const a = await run(9);
    expect(await run(9)).toEqual(a);
    expect((await run(10))['classifier/weights.bin']).not.toBe(a['classifier/weights.bin']);
  });

  it('reusing a classifier trained with the same seed gives the same network as training it', async () => {
    const opts = {
      networkId: 'net-x',
      classes: [2, 5],
      data: mnist,
      variant: { architecture: 'combined', loss: 'both', reconstruction: 'bce' } as const,
      architecture: TINY,
      latentSize: 4,
      epochs: 1,
      maxTrainSamples: 128,
      seed: 4,
    };
    const first = await trainAndExport(join(await tmp(), 'net-x'), opts);
    const dirA = join(await tmp(), 'net-x');
    await trainAndExport(dirA, { ...opts, variant: { ...opts.variant, loss: 'reconstruction' } });
    const { classifier, decoder } = await loadNetwork(folderReader(dirA));
    decoder.dispose();
    const reused = await trainAndExport(join(await tmp(), 'net-x'), { ...opts, classifier });
    expect(reused.files).toEqual(first.files);
  });

  it('with a validation slice, exports calibration.json fitted on it; the models are as exported without it', async () => {
    const opts = {
      networkId: 'net-x',
      classes: [3, 7],
      data: mnist,
      variant: { architecture: 'combined', loss: 'perceptual', reconstruction: 'bce' } as const,
      architecture: TINY,
      latentSize: 4,
      epochs: 1,
      maxTrainSamples: 256,
      validationFraction: 0.25,
      seed: 5,
    };
    const dir = join(await tmp(), 'net-x');
    const before = tf.memory().numTensors;
    const manifest = await trainAndExport(dir, opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(manifest.dataset.trainCount).toBe(192);
    const net = await loadNetwork(folderReader(dir));
    expect(net.calibration?.classes).toEqual([3, 7]);
    expect(net.calibration?.validationCount).toBe(64);
    net.classifier.dispose();
    net.decoder.dispose();
    // the same network exported without its calibration: every other file identical
    const trained = await trainNetwork(opts);
    expect(trained.calibration).toEqual(net.calibration);
    const plain = await exportNetwork(
      join(await tmp(), 'net-x'),
      trained.manifest,
      trained.classifier,
      trained.decoder,
    );
    trained.dispose();
    const { [CALIBRATION_FILE]: cal, ...rest } = manifest.files;
    expect(cal).toMatch(/^[0-9a-f]{64}$/);
    expect(plain.files).toEqual(rest);
    const { files: _a, training: ta, ...m1 } = manifest;
    const { files: _b, training: tb, ...m2 } = plain;
    expect(m1).toEqual(m2);
    expect({ ...ta, durationSeconds: 0 }).toEqual({ ...tb, durationSeconds: 0 });
  });

  it('learns: a small classifier separates 3 digit classes well above chance in one epoch', async () => {
    const net = await trainNetwork({
      networkId: 'net-y',
      classes: [0, 1, 2],
      data: mnist,
      variant: { architecture: 'separate', loss: 'reconstruction', reconstruction: 'mse' },
      architecture: { ...TINY, classifierFilters: [8, 16, 16, 16], denseUnits: 32 },
      latentSize: 4,
      epochs: 1,
      vaeEpochs: 0,
      maxTrainSamples: 1500,
      seed: 1,
    });
    expect(net.manifest.training.heldOutAccuracy).toBeGreaterThan(0.9);
    expect(net.manifest.training.perClassAccuracy.map((p) => p.classId)).toEqual([0, 1, 2]);
    net.dispose();
  });
});

/** trainAll of tiny untrained networks (no epochs, 64 images each) into `out`. */
function tinyTrainAll(out: string, partition: string, extra: { validationFraction?: number } = {}) {
  return trainAll({
    partition,
    networks: 2,
    splitSeed: 0,
    outDir: out,
    data: mnist,
    variant: { architecture: 'separate', loss: 'reconstruction', reconstruction: 'bce' },
    architecture: TINY,
    latentSize: 4,
    epochs: 0,
    maxTrainSamples: 64,
    seed: 1,
    ...extra,
  });
}

describe('trainAll', () => {
  it('trains every network of an explicit partition into <out>/<id>/ and nothing else', async () => {
    const out = await tmp();
    const manifests = await tinyTrainAll(out, '0,1/2,3/4');
    expect(manifests.map((m) => [m.networkId, m.classes])).toEqual([
      ['net-a', [0, 1]],
      ['net-b', [2, 3]],
      ['net-c', [4]],
    ]);
    expect((await readdir(out)).sort()).toEqual(['net-a', 'net-b', 'net-c']);
    expect(manifests.some((m) => m.files[CALIBRATION_FILE] !== undefined)).toBe(false);
  });

  it('passes validationFraction to every network: each folder is calibrated', async () => {
    const out = await tmp();
    const manifests = await tinyTrainAll(out, '0,1/2', { validationFraction: 0.5 });
    for (const m of manifests) {
      expect(m.dataset.trainCount).toBe(32);
      const net = await loadNetwork(folderReader(join(out, m.networkId)));
      expect(net.calibration?.classes).toEqual(m.classes);
      expect(net.calibration?.validationCount).toBe(32);
      net.classifier.dispose();
      net.decoder.dispose();
    }
  });

  it('refuses overlapping or unknown classes before training anything', async () => {
    const out = await tmp();
    const base = {
      networks: 2,
      splitSeed: 0,
      outDir: out,
      data: mnist,
      variant: { architecture: 'separate', loss: 'reconstruction', reconstruction: 'bce' } as const,
      epochs: 0,
      seed: 1,
    };
    await expect(trainAll({ ...base, partition: '0,1/1,2' })).rejects.toThrow(
      /class 1 is in network 1 and network 2/,
    );
    await expect(trainAll({ ...base, partition: '0,1/11' })).rejects.toThrow(
      /class 11 .* does not occur/,
    );
    await expect(trainAll({ ...base, partition: '0,1/2', only: ['net-z'] })).rejects.toThrow(
      /--only net-z/,
    );
    expect(await readdir(out)).toEqual([]);
  });
});
