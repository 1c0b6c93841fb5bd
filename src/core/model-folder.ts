import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { CALIBRATION_FILE, type Calibration, parseCalibration } from './calibration/schema';
import {
  CLASSIFIER_DIR,
  GENERATOR_DIR,
  MANIFEST_FILE,
  type Manifest,
  ManifestSchema,
  modelDigest,
  sha256Hex,
} from './manifest';

/**
 * The model folder, runtime-neutral:
 *   manifest.json
 *   classifier/model.json  classifier/weights.bin   (tfjs layers format)
 *   generator/model.json   generator/weights.bin    (the VAE decoder)
 *   calibration.json       (optional: fitted on the network's own validation slice)
 * Readers get files through a `ReadFile` function, so Node (fs), a Worker (bundled
 * modules) and tests (memory) share one loader.
 */
export type ReadFile = (relativePath: string) => Promise<Uint8Array>;

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

/**
 * A path a manifest or model.json names must stay inside the model folder: relative, '/'
 * separated, no empty, '.' or '..' segment, no backslash, colon or control character. (The
 * Node folder reader also refuses symlinks that lead out: see src/node/fs-atomic.ts.)
 */
export function checkFolderPath(path: string, namedBy: string): void {
  const segments = path.split('/');
  const ok =
    path.length > 0 &&
    path.length <= 255 &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    !/[\\:\u0000-\u001f\u007f]/.test(path) &&
    segments.every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok) {
    throw new ModelFolderError(
      `${namedBy} names the file ${JSON.stringify(path.slice(0, 300))}, which is not a plain relative path inside the model folder (no "..", no absolute path, no backslash): re-export the network`,
    );
  }
}

/** tfjs layers `model.json` as we write it (one weights file). */
const ModelJsonSchema = z.object({
  format: z.literal('layers-model'),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z
    .array(
      z.object({
        paths: z.array(z.string()),
        weights: z.array(
          z.object({ name: z.string(), shape: z.array(z.number()), dtype: z.string() }).loose(),
        ),
      }),
    )
    .length(1),
});

/** Serialize a layers model to `{ 'model.json', 'weights.bin' }` bytes. */
export async function serializeModel(model: tfl.LayersModel): Promise<Record<string, Uint8Array>> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightSpecs || artifacts.weightData === undefined) {
    throw new ModelFolderError(`model ${model.name} produced no weights`);
  }
  const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const modelJson = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
  };
  return {
    [MODEL_JSON]: new TextEncoder().encode(JSON.stringify(modelJson)),
    [WEIGHTS_BIN]: new Uint8Array(data),
  };
}

async function readVerified(read: ReadFile, path: string, manifest: Manifest): Promise<Uint8Array> {
  const want = manifest.files[path];
  if (want === undefined)
    throw new ModelFolderError(`${path}: not listed in ${MANIFEST_FILE}.files`);
  let bytes: Uint8Array;
  try {
    bytes = await read(path);
  } catch (e) {
    throw new ModelFolderError(`${path}: cannot be read (${(e as Error).message})`);
  }
  const got = await sha256Hex(bytes);
  if (got !== want) {
    throw new ModelFolderError(
      `${path}: sha256 ${got} does not match ${MANIFEST_FILE} (${want}); the file was changed or corrupted — re-export the network`,
    );
  }
  return bytes;
}

async function loadModel(
  read: ReadFile,
  dir: string,
  manifest: Manifest,
): Promise<tfl.LayersModel> {
  const jsonPath = `${dir}/${MODEL_JSON}`;
  const jsonBytes = await readVerified(read, jsonPath, manifest);
  let parsed: z.infer<typeof ModelJsonSchema>;
  try {
    parsed = ModelJsonSchema.parse(JSON.parse(new TextDecoder().decode(jsonBytes)));
  } catch (e) {
    throw new ModelFolderError(
      `${jsonPath}: not a tfjs layers model.json (${(e as Error).message.slice(0, 200)})`,
    );
  }
  const spec = parsed.weightsManifest[0]!;
  for (const p of spec.paths) checkFolderPath(p, jsonPath);
  const weights = await readVerified(read, `${dir}/${spec.paths[0] ?? WEIGHTS_BIN}`, manifest);
  try {
    return await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: parsed.modelTopology,
        weightSpecs: spec.weights as tf.io.WeightsManifestEntry[],
        weightData: weights.slice().buffer,
      }),
    );
  } catch (e) {
    throw new ModelFolderError(
      `${dir}/: model does not load (${(e as Error).message.slice(0, 200)})`,
    );
  }
}

/**
 * Load a bare model folder (`model.json` + `weights.bin`, as `serializeModel` writes it, no
 * manifest and no digests): the experiment's cache of trained classifiers.
 */
export async function loadModelFolder(read: ReadFile): Promise<tfl.LayersModel> {
  const parsed = ModelJsonSchema.parse(
    JSON.parse(new TextDecoder().decode(await read(MODEL_JSON))),
  );
  const spec = parsed.weightsManifest[0]!;
  for (const p of spec.paths) checkFolderPath(p, MODEL_JSON);
  const weights = await read(spec.paths[0] ?? WEIGHTS_BIN);
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: parsed.modelTopology,
      weightSpecs: spec.weights as tf.io.WeightsManifestEntry[],
      weightData: weights.slice().buffer,
    }),
  );
}

export interface LoadedNetwork {
  manifest: Manifest;
  /** sha256 over every file's digest: names this exact model in packets and ETags. */
  digest: string;
  classifier: tfl.LayersModel;
  decoder: tfl.LayersModel;
  /** Present when the folder has one (`POST /v1/label`, the client's cross-labelling). */
  calibration?: Calibration | undefined;
}

export async function readManifest(read: ReadFile): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(await read(MANIFEST_FILE)));
  } catch (e) {
    throw new ModelFolderError(`${MANIFEST_FILE}: missing or not JSON (${(e as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFolderError(
      `${MANIFEST_FILE}: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  for (const path of Object.keys(parsed.data.files)) {
    checkFolderPath(path, `${MANIFEST_FILE}.files`);
  }
  return parsed.data;
}

/** Load and verify a whole network: manifest schema, every sha256, both models. */
export async function loadNetwork(read: ReadFile): Promise<LoadedNetwork> {
  const manifest = await readManifest(read);
  const classifier = await loadModel(read, CLASSIFIER_DIR, manifest);
  const decoder = await loadModel(read, GENERATOR_DIR, manifest);
  const outK = classifier.outputs[0]?.shape.at(-1);
  if (outK !== manifest.classes.length) {
    throw new ModelFolderError(
      `${CLASSIFIER_DIR}/${MODEL_JSON}: ${outK} outputs but manifest lists ${manifest.classes.length} classes`,
    );
  }
  let calibration: Calibration | undefined;
  if (manifest.files[CALIBRATION_FILE] !== undefined) {
    try {
      calibration = parseCalibration(await readVerified(read, CALIBRATION_FILE, manifest));
    } catch (e) {
      tfDisposeModels(classifier, decoder);
      throw e instanceof ModelFolderError ? e : new ModelFolderError((e as Error).message);
    }
    if (calibration.classes.join(',') !== manifest.classes.join(',')) {
      tfDisposeModels(classifier, decoder);
      throw new ModelFolderError(
        `${CALIBRATION_FILE}: classes ${calibration.classes.join(',')} differ from the manifest's ${manifest.classes.join(',')}: re-calibrate the network`,
      );
    }
  }
  return {
    manifest,
    digest: await modelDigest(manifest.files),
    classifier,
    decoder,
    ...(calibration ? { calibration } : {}),
  };
}

function tfDisposeModels(...models: tfl.LayersModel[]): void {
  for (const m of models) m.dispose();
}
