import type * as tfl from '@tensorflow/tfjs-layers';
import { CALIBRATION_FILE, type Calibration, CalibrationSchema } from '../core/calibration';
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

/** What a model folder may hold beside the two models. */
export interface ExportExtras {
  /** Written as calibration.json (fitted on the network's own validation slice). */
  calibration?: Calibration | undefined;
}

/** calibration.json's bytes as every writer of a model folder writes them. */
export function calibrationBytes(calibration: Calibration): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(CalibrationSchema.parse(calibration))}\n`);
}

/**
 * Export one network to `dir` (e.g. models/net-a): classifier + decoder in tfjs layers
 * format, calibration.json when given, and a manifest with the sha256 of every file.
 * Atomic: temp folder + rename.
 */
export async function exportNetwork(
  dir: string,
  manifest: ManifestWithoutFiles,
  classifier: tfl.LayersModel,
  decoder: tfl.LayersModel,
  extra: ExportExtras = {},
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
  if (extra.calibration) {
    const got = extra.calibration.classes.join(',');
    if (got !== manifest.classes.join(',')) {
      throw new Error(
        `${manifest.networkId}: the calibration is for classes ${got}, the network has ${manifest.classes.join(',')}`,
      );
    }
    files[CALIBRATION_FILE] = calibrationBytes(extra.calibration);
  }
  const digests: Record<string, string> = {};
  for (const path of Object.keys(files).sort()) digests[path] = await sha256Hex(files[path]!);
  const full = ManifestSchema.parse({ ...manifest, files: digests });
  await writeFolderAtomic(dir, { ...files, [MANIFEST_FILE]: `${JSON.stringify(full, null, 2)}\n` });
  return full;
}
