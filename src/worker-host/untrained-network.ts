import type { Manifest } from '../core/manifest';
import { buildClassifier, buildDecoder, DEFAULT_ARCHITECTURE } from '../core/models';
import { exportNetwork } from '../node/model-export';

/**
 * A full-size but untrained network (the reference architecture, seeded weights), for
 * measuring bundle sizes and throughput before trained networks exist. Needs a tfjs
 * backend. Node-only.
 */
export async function writeUntrainedNetwork(
  dir: string,
  opts: { networkId?: string; classes?: number[]; latentSize?: number } = {},
): Promise<Manifest> {
  const classes = opts.classes ?? [0, 1, 2, 3, 4];
  const latentSize = opts.latentSize ?? 16;
  const imageShape: [number, number, number] = [28, 28, 1];
  const { model: classifier } = buildClassifier({
    imageShape,
    numClasses: classes.length,
    seed: 1,
  });
  const decoder = buildDecoder({ imageShape, latentSize, seed: 2 });
  const manifest = await exportNetwork(
    dir,
    {
      formatVersion: 1,
      networkId: opts.networkId ?? 'untrained',
      dataset: { name: 'untrained', imageShape, trainCount: 0, testCount: 0 },
      classes,
      variant: { architecture: 'separate', loss: 'reconstruction', reconstruction: 'bce' },
      architecture: DEFAULT_ARCHITECTURE,
      generator: {
        kind: 'vae-decoder',
        latentSize,
        classPriors: classes.map((classId) => ({
          classId,
          mean: Array.from({ length: latentSize }, () => 0),
          std: Array.from({ length: latentSize }, () => 1),
          count: 0,
        })),
      },
      training: {
        seed: 1,
        epochs: 0,
        vaeEpochs: 0,
        batchSize: 64,
        durationSeconds: 0,
        heldOutAccuracy: 0,
        perClassAccuracy: [],
      },
    },
    classifier,
    decoder,
  );
  classifier.dispose();
  decoder.dispose();
  return manifest;
}
