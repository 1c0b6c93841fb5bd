import type * as tfl from '@tensorflow/tfjs-layers';
import type { Manifest } from '../core/manifest';
import { exportNetwork } from '../node/model-export';

/**
 * Save the merged classifier as a model folder (the same layout `loadNetwork` reads), written
 * atomically: temp folder + rename, so a failure leaves the old folder (or nothing) in place.
 * The generator folder keeps the target's own decoder: the merged network can still share
 * its original classes, but its generator knows nothing of the new ones (the manifest's
 * `generator.classPriors` say which classes it covers).
 */
export async function saveMergedFolder(
  dir: string,
  base: Manifest,
  classifier: tfl.LayersModel,
  decoder: tfl.LayersModel,
  update: Pick<Manifest, 'networkId' | 'classes'> & { training: Partial<Manifest['training']> },
): Promise<Manifest> {
  const { files: _previous, ...rest } = base;
  return exportNetwork(
    dir,
    {
      ...rest,
      networkId: update.networkId,
      classes: update.classes,
      training: { ...base.training, ...update.training },
    },
    classifier,
    decoder,
  );
}
