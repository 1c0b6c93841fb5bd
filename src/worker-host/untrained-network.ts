import type { ArchitectureInfo, LatentGaussian, LatentMixture, Manifest } from '../core/manifest';
import { buildClassifier, buildDecoder, DEFAULT_ARCHITECTURE } from '../core/models';
import { exportNetwork } from '../node/model-export';

export interface UntrainedNetworkOptions {
  networkId?: string;
  classes?: number[];
  latentSize?: number;
  /** Layer sizes (default: the project's, as a trained network has). */
  architecture?: ArchitectureInfo;
  /** The manifest's dataset name. */
  datasetName?: string;
  /** Class k's latent prior (k: its index in `classes`); default N(0, 1), count 0. */
  classPrior?: (k: number, latentSize: number) => Omit<LatentGaussian, 'classId'>;
  /** Class k's latent mixture (what `class-mixture` samples); default none, as in older networks. */
  classMixture?: (k: number, latentSize: number) => Omit<LatentMixture, 'classId'>;
}

/**
 * An untrained network (seeded weights) exported to `dir`: at the default size, for measuring
 * bundle sizes and throughput before trained networks exist; with small layers, the fast
 * fixture of tests (test/fixtures/tiny-network.ts). Needs a tfjs backend. Node-only.
 */
export async function writeUntrainedNetwork(
  dir: string,
  opts: UntrainedNetworkOptions = {},
): Promise<Manifest> {
  const classes = opts.classes ?? [0, 1, 2, 3, 4];
  const latentSize = opts.latentSize ?? 16;
  const architecture = opts.architecture ?? DEFAULT_ARCHITECTURE;
  const classPrior =
    opts.classPrior ??
    ((_k: number, n: number) => ({
      mean: Array.from({ length: n }, () => 0),
      std: Array.from({ length: n }, () => 1),
      count: 0,
    }));
  const imageShape: [number, number, number] = [28, 28, 1];
  const { model: classifier } = buildClassifier({
    imageShape,
    numClasses: classes.length,
    filters: architecture.classifierFilters,
    denseUnits: architecture.denseUnits,
    seed: 1,
  });
  const decoder = buildDecoder({
    imageShape,
    latentSize,
    filters: architecture.decoderFilters,
    upsampling: architecture.upsampling,
    seed: 2,
  });
  try {
    return await exportNetwork(
      dir,
      {
        formatVersion: 1,
        networkId: opts.networkId ?? 'untrained',
        dataset: { name: opts.datasetName ?? 'untrained', imageShape, trainCount: 0, testCount: 0 },
        classes,
        variant: { architecture: 'separate', loss: 'reconstruction', reconstruction: 'bce' },
        architecture,
        generator: {
          kind: 'vae-decoder',
          latentSize,
          classPriors: classes.map((classId, k) => ({ classId, ...classPrior(k, latentSize) })),
          ...(opts.classMixture
            ? {
                classMixtures: classes.map((classId, k) => ({
                  classId,
                  ...opts.classMixture!(k, latentSize),
                })),
              }
            : {}),
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
  } finally {
    classifier.dispose();
    decoder.dispose();
  }
}
