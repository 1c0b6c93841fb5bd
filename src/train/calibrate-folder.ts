import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { CALIBRATION_FILE, type Calibration, fitCalibration } from '../core/calibration';
import { MANIFEST_FILE, type Manifest, ManifestSchema, sha256Hex } from '../core/manifest';
import { loadNetwork, ModelFolderError, type ReadFile } from '../core/model-folder';
import { type Dataset, DatasetError } from '../data/dataset';
import { selectClasses } from '../data/partition';
import { folderReader, writeFolderAtomic } from '../node/fs-atomic';
import { calibrationBytes } from '../node/model-export';

export interface CalibrateFolderOptions {
  /** The network's model folder; read (and verified), never written. */
  modelDir: string;
  /** Where the calibrated copy goes (replaced atomically when it exists). */
  outDir: string;
  /**
   * Images the network did NOT train on (its validation slice, or a held-out folder of its
   * owner's data). Only those of the network's own classes are used.
   */
  images: Omit<Dataset, 'name'>;
}

export interface CalibratedFolder {
  /** The copy's manifest (the source's, plus calibration.json's hash). */
  manifest: Manifest;
  /** What calibration.json holds. */
  calibration: Calibration;
}

/**
 * A calibrated copy of a model folder: the network is loaded and verified, its calibration is
 * fitted on the given images of its own classes (`fitCalibration`), and `outDir` is written
 * atomically with every file the source manifest lists copied byte for byte (after checking
 * its sha256 again), calibration.json (a source one is replaced in the copy only), and the
 * manifest with calibration.json's hash added, everything else of it unchanged. `modelDir`
 * is never written; files it holds that its manifest does not list are not copied. Returns
 * the new manifest and the calibration.
 */
export async function calibrateNetworkFolder(
  opts: CalibrateFolderOptions,
): Promise<CalibratedFolder> {
  await refuseOverlap(opts.modelDir, opts.outDir);
  const read = folderReader(opts.modelDir);
  let net: Awaited<ReturnType<typeof loadNetwork>>;
  try {
    net = await loadNetwork(read);
  } catch (e) {
    if (e instanceof ModelFolderError) throw new ModelFolderError(`${opts.modelDir}: ${e.message}`);
    throw e;
  }
  try {
    const { manifest } = net;
    const want = manifest.dataset.imageShape.join('x');
    const got = opts.images.imageShape.join('x');
    if (got !== want) {
      throw new DatasetError(
        `the images are ${got} but ${manifest.networkId} was trained on ${want} images: calibrate it on images of its own dataset`,
      );
    }
    const own = selectClasses({ name: manifest.dataset.name, ...opts.images }, manifest.classes);
    if (own.count === 0) {
      throw new DatasetError(
        `none of the ${opts.images.count} images is of ${manifest.networkId}'s classes ${manifest.classes.join(',')}: a calibration is fitted on the network's own classes only`,
      );
    }
    const calibration = fitCalibration(net.classifier, manifest.classes, own);
    const files = await copyListedFiles(read, manifest);
    const calBytes = calibrationBytes(calibration);
    files[CALIBRATION_FILE] = calBytes;
    const raw = JSON.parse(new TextDecoder().decode(await read(MANIFEST_FILE))) as Record<
      string,
      unknown
    >;
    const digests: Record<string, string> = { ...manifest.files };
    digests[CALIBRATION_FILE] = await sha256Hex(calBytes);
    raw.files = Object.fromEntries(
      Object.keys(digests)
        .sort()
        .map((k) => [k, digests[k]!]),
    );
    const full = ManifestSchema.parse(raw);
    await writeFolderAtomic(opts.outDir, {
      ...files,
      [MANIFEST_FILE]: `${JSON.stringify(raw, null, 2)}\n`,
    });
    return { manifest: full, calibration };
  } finally {
    net.classifier.dispose();
    net.decoder.dispose();
  }
}

/** Every file the manifest lists but calibration.json, each checked against its sha256. */
async function copyListedFiles(
  read: ReadFile,
  manifest: Manifest,
): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const [path, want] of Object.entries(manifest.files)) {
    if (path === CALIBRATION_FILE) continue;
    const bytes = await read(path);
    const got = await sha256Hex(bytes);
    if (got !== want) {
      throw new ModelFolderError(
        `${path}: sha256 ${got} does not match ${MANIFEST_FILE} (${want}); the file changed while it was copied`,
      );
    }
    out[path] = bytes;
  }
  return out;
}

/** The output must not be, lie inside, or hold the model folder (it would be replaced). */
async function refuseOverlap(modelDir: string, outDir: string): Promise<void> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  const src = await real(modelDir);
  const out = await real(outDir);
  const within = (a: string, b: string) => {
    const rel = relative(b, a);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  if (within(out, src) || within(src, out)) {
    throw new ModelFolderError(
      `the calibrated copy ${outDir} would overwrite the model folder ${modelDir}: write it to another folder`,
    );
  }
}
