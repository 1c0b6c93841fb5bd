import type * as tfl from '@tensorflow/tfjs-layers';
import {
  CLASSIFIER_DIR,
  GENERATOR_DIR,
  MANIFEST_FILE,
  type Manifest,
  ManifestSchema,
  sha256Hex,
} from '../core/manifest';
import { serializeModel } from '../core/model-folder';
import { writeFolderAtomic } from '../node/fs-atomic';

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
  const files: Record<string, Uint8Array> = {};
  for (const [sub, model] of [
    [CLASSIFIER_DIR, classifier],
    [GENERATOR_DIR, decoder],
  ] as const) {
    for (const [name, bytes] of Object.entries(await serializeModel(model))) {
      files[`${sub}/${name}`] = bytes;
    }
  }
  const digests: Record<string, string> = {};
  for (const path of Object.keys(files).sort()) digests[path] = await sha256Hex(files[path]!);
  const manifest = ManifestSchema.parse({
    ...base,
    networkId: update.networkId,
    classes: update.classes,
    training: { ...base.training, ...update.training },
    files: digests,
  });
  await writeFolderAtomic(dir, {
    ...files,
    [MANIFEST_FILE]: `${JSON.stringify(manifest, null, 2)}\n`,
  });
  return manifest;
}
