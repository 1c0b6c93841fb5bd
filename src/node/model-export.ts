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
import { writeFolderAtomic } from './fs-atomic';

export type ManifestWithoutFiles = Omit<Manifest, 'files'>;

/**
 * Export one network to `dir` (e.g. models/net-a): classifier + decoder in tfjs layers
 * format and a manifest with the sha256 of every file. Atomic: temp folder + rename.
 */
export async function exportNetwork(
  dir: string,
  manifest: ManifestWithoutFiles,
  classifier: tfl.LayersModel,
  decoder: tfl.LayersModel,
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
  const full = ManifestSchema.parse({ ...manifest, files: digests });
  await writeFolderAtomic(dir, { ...files, [MANIFEST_FILE]: `${JSON.stringify(full, null, 2)}\n` });
  return full;
}
