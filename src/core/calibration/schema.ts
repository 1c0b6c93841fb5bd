import { z } from 'zod';

/**
 * A network's calibration: what it takes to say, of any image, how much it looks like the
 * network's own data and what the network's calibrated probabilities over its classes are.
 * Fitted on a held-out slice of the network's OWN images only (`fitCalibration`), kept in the
 * model folder beside the classifier (`calibration.json`, hashed in the manifest) and never
 * served: endpoints answer `POST /v1/label` with it, the fair ensemble scores with it.
 */
export const CALIBRATION_FILE = 'calibration.json';
export const CALIBRATION_FORMAT_VERSION = 1;
/** At most this many validation scores are kept (evenly spaced order statistics beyond). */
export const MAX_CALIBRATION_SCORES = 4096;
/** Largest penultimate feature size a calibration may describe (its precision is d x d). */
export const MAX_FEATURE_SIZE = 1024;

/** Float32 values, little-endian, as base64. */
const Float32Base64Schema = z
  .string()
  .max(8 * MAX_FEATURE_SIZE * MAX_FEATURE_SIZE)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'base64');

export const CalibrationSchema = z
  .object({
    formatVersion: z.literal(CALIBRATION_FORMAT_VERSION),
    /** The network's classes, as in its manifest (column k of its classifier is classes[k]). */
    classes: z.array(z.number().int().nonnegative()).min(1).max(4096),
    /** d: size of the classifier's penultimate features. */
    featureSize: z.number().int().positive().max(MAX_FEATURE_SIZE),
    /** Temperature minimising the validation negative log-likelihood. */
    temperature: z.number().positive().finite(),
    /** [k, d] class means of the validation features (float32 base64). */
    means: Float32Base64Schema,
    /** [d, d] inverse of the shared covariance, with a small ridge (float32 base64). */
    precision: Float32Base64Schema,
    /** Validation scores (minus the smallest Mahalanobis distance), ascending. */
    scores: z.array(z.number().finite()).min(1).max(MAX_CALIBRATION_SCORES),
    /** Validation images it was fitted on. */
    validationCount: z.number().int().positive(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const k = c.classes.length;
    const d = c.featureSize;
    if (base64Length(c.means) !== 4 * k * d) {
      ctx.addIssue({ code: 'custom', path: ['means'], message: `must hold ${k} x ${d} float32` });
    }
    if (base64Length(c.precision) !== 4 * d * d) {
      ctx.addIssue({
        code: 'custom',
        path: ['precision'],
        message: `must hold ${d} x ${d} float32`,
      });
    }
    for (let i = 1; i < c.scores.length; i++) {
      if (c.scores[i]! < c.scores[i - 1]!) {
        ctx.addIssue({ code: 'custom', path: ['scores', i], message: 'scores must be ascending' });
        break;
      }
    }
  });
export type Calibration = z.infer<typeof CalibrationSchema>;

function base64Length(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/** Float32 values as little-endian base64 (runtime-neutral: btoa exists in Node and workerd). */
export function float32ToBase64(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function base64ToFloat32(s: string): Float32Array {
  const bin = atob(s);
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  const out = new Float32Array(bin.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Parse calibration.json bytes; throws with the first issue's path and message. */
export function parseCalibration(bytes: Uint8Array): Calibration {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${CALIBRATION_FILE}: not JSON (${(e as Error).message})`);
  }
  const parsed = CalibrationSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${CALIBRATION_FILE}: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
