import { z } from 'zod';

/**
 * Knowledge packets: one safetensors file with
 *   images       U8  [N, H, W, C]
 *   soft_labels  F32 [N, K]     (column k = classIds[k])
 *   __metadata__ string -> string (safetensors allows only strings; arrays/objects are JSON text)
 * The codec is runtime-neutral and byte-deterministic: the same packet always encodes to
 * the same bytes (fixed key order, no timestamps).
 */
export const PACKET_FORMAT_VERSION = 1;
export const PACKET_MEDIA_TYPE = 'application/octet-stream';

export const PacketMetadataSchema = z.object({
  formatVersion: z.literal(PACKET_FORMAT_VERSION),
  networkId: z.string().min(1),
  classIds: z.array(z.number().int().nonnegative()).min(1),
  generator: z.string().min(1),
  modelDigest: z.string().regex(/^[0-9a-f]{64}$/),
  seed: z.number().int().nonnegative(),
  threshold: z.number().min(0).max(1),
  requested: z.number().int().nonnegative(),
  generated: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  /** Kept samples per class id, by argmax of the soft label. */
  perClass: z.record(z.string(), z.number().int().nonnegative()),
});
export type PacketMetadata = z.infer<typeof PacketMetadataSchema>;

export interface Packet {
  metadata: PacketMetadata;
  /** [N, H, W, C] as bytes 0..255. */
  images: Uint8Array;
  imageShape: readonly [number, number, number];
  /** [N, K] row-major. */
  softLabels: Float32Array;
}

export class PacketFormatError extends Error {
  override name = 'PacketFormatError';
}

const TensorInfoSchema = z.strictObject({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
type TensorInfo = z.infer<typeof TensorInfoSchema>;

/** Exactly the two tensors and the metadata: any other key would be bytes nobody checks. */
const HeaderSchema = z.strictObject({
  __metadata__: z.record(z.string(), z.unknown()),
  images: TensorInfoSchema,
  soft_labels: TensorInfoSchema,
});

/** Largest safetensors header a packet may have (a real one is under 1 KiB). */
export const PACKET_HEADER_LIMIT = 64 * 1024;

/**
 * The largest packet a request for `count` samples of `imageShape` images over `classes`
 * classes can produce: what a client may read, and no more.
 */
export function maxPacketBytes(
  count: number,
  imageShape: readonly [number, number, number],
  classes: number,
): number {
  const [h, w, c] = imageShape;
  return 8 + PACKET_HEADER_LIMIT + count * (h * w * c + 4 * classes);
}

/** Metadata fields as safetensors strings: numbers and arrays as JSON text. */
function metadataToStrings(m: PacketMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

function metadataFromStrings(raw: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new PacketFormatError(`__metadata__.${k} is not a string`);
    if (k === 'networkId' || k === 'generator' || k === 'modelDigest') out[k] = v;
    else {
      try {
        out[k] = JSON.parse(v);
      } catch {
        throw new PacketFormatError(`__metadata__.${k} is not valid JSON: ${v.slice(0, 40)}`);
      }
    }
  }
  return out;
}

export function encodePacket(packet: Packet): Uint8Array {
  const [h, w, c] = packet.imageShape;
  const k = packet.metadata.classIds.length;
  const n = packet.images.length / (h * w * c);
  if (!Number.isInteger(n)) throw new PacketFormatError('images length is not a multiple of H*W*C');
  if (packet.softLabels.length !== n * k) {
    throw new PacketFormatError(
      `soft_labels has ${packet.softLabels.length} values, want ${n * k}`,
    );
  }
  if (packet.metadata.kept !== n) {
    throw new PacketFormatError(`metadata.kept=${packet.metadata.kept} but packet holds ${n}`);
  }
  // soft_labels first: its 4-byte alignment is then guaranteed by padding the header to 8.
  const labelBytes = packet.softLabels.byteLength;
  const header = {
    __metadata__: metadataToStrings(packet.metadata),
    soft_labels: { dtype: 'F32', shape: [n, k], data_offsets: [0, labelBytes] },
    images: {
      dtype: 'U8',
      shape: [n, h, w, c],
      data_offsets: [labelBytes, labelBytes + packet.images.length],
    },
  };
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + labelBytes + packet.images.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const labelsLe = new Uint8Array(labelBytes);
  const lv = new DataView(labelsLe.buffer);
  for (let i = 0; i < packet.softLabels.length; i++)
    lv.setFloat32(i * 4, packet.softLabels[i]!, true);
  out.set(labelsLe, 8 + headerBytes.length);
  out.set(packet.images, 8 + headerBytes.length + labelBytes);
  return out;
}

/**
 * Parse packet bytes; throws PacketFormatError naming what is wrong. Strict: the header is a
 * UTF-8 JSON object (no BOM) with exactly `__metadata__`, `images` (U8 [N,H,W,C], H, W, C >= 1)
 * and `soft_labels` (F32 [N,K], K = classIds.length); the two tensors tile the data region
 * exactly (no overlap, gap or trailing byte); and the metadata agrees with the data (kept = N,
 * perClass = the argmax counts, every kept row reaches the threshold).
 */
export function decodePacket(bytes: Uint8Array): Packet {
  if (bytes.length < 8) throw new PacketFormatError(`packet is ${bytes.length} bytes: truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > PACKET_HEADER_LIMIT || 8 + headerLen > bytes.length) {
    throw new PacketFormatError(
      `header length ${headerLen} exceeds the ${bytes.length}-byte body (or the ${PACKET_HEADER_LIMIT}-byte limit): truncated or not a packet`,
    );
  }
  const headerBytes = bytes.subarray(8, 8 + headerLen);
  // '{' first: no byte order mark, no leading whitespace.
  if (headerBytes[0] !== 0x7b) {
    throw new PacketFormatError(
      'safetensors header does not start with "{" (a byte order mark or other prefix)',
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch {
    throw new PacketFormatError('safetensors header is not valid UTF-8 JSON');
  }
  const parsedHeader = HeaderSchema.safeParse(header);
  if (!parsedHeader.success) {
    const issue = parsedHeader.error.issues[0];
    throw new PacketFormatError(
      `safetensors header must hold exactly __metadata__, images and soft_labels: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const { images, soft_labels: labels } = parsedHeader.data;
  const meta = PacketMetadataSchema.safeParse(metadataFromStrings(parsedHeader.data.__metadata__));
  if (!meta.success) {
    const issue = meta.error.issues[0];
    throw new PacketFormatError(
      `packet metadata invalid at ${issue?.path.join('.')}: ${issue?.message}`,
    );
  }
  const metadata = meta.data;
  const { n, h, w, c, k } = checkShapes(images, labels, metadata);
  const dataStart = 8 + headerLen;
  checkTiling(
    [
      ['images', images.data_offsets, n * h * w * c],
      ['soft_labels', labels.data_offsets, n * k * 4],
    ],
    bytes.length - dataStart,
  );
  const imgBytes = bytes.slice(
    dataStart + images.data_offsets[0],
    dataStart + images.data_offsets[1],
  );
  const lv = new DataView(
    bytes.buffer,
    bytes.byteOffset + dataStart + labels.data_offsets[0],
    n * k * 4,
  );
  const softLabels = new Float32Array(n * k);
  for (let i = 0; i < softLabels.length; i++) softLabels[i] = lv.getFloat32(i * 4, true);
  checkAgreement(metadata, softLabels, n);
  return { metadata, images: imgBytes, imageShape: [h, w, c], softLabels };
}

function checkShapes(images: TensorInfo, labels: TensorInfo, metadata: PacketMetadata) {
  if (images.dtype !== 'U8' || images.shape.length !== 4)
    throw new PacketFormatError('images must be U8 [N,H,W,C]');
  if (labels.dtype !== 'F32' || labels.shape.length !== 2)
    throw new PacketFormatError('soft_labels must be F32 [N,K]');
  const [n, h, w, c] = images.shape as [number, number, number, number];
  const [ln, k] = labels.shape as [number, number];
  if (h < 1 || w < 1 || c < 1)
    throw new PacketFormatError(`images shape [${images.shape.join(',')}] has a zero dimension`);
  if (ln !== n) throw new PacketFormatError(`images has ${n} samples, soft_labels ${ln}`);
  if (k !== metadata.classIds.length)
    throw new PacketFormatError(
      `soft_labels has ${k} columns, metadata.classIds ${metadata.classIds.length}`,
    );
  if (new Set(metadata.classIds).size !== k)
    throw new PacketFormatError(`metadata.classIds [${metadata.classIds.join(',')}] repeat an id`);
  if (metadata.kept !== n)
    throw new PacketFormatError(`metadata.kept=${metadata.kept} but packet holds ${n}`);
  return { n, h, w, c, k };
}

/** The tensors must cover the data region exactly: sorted by start, each begins where the last ended. */
function checkTiling(tensors: [string, [number, number], number][], dataLen: number): void {
  let at = 0;
  for (const [name, [b, e], want] of [...tensors].sort((x, y) => x[1][0] - y[1][0])) {
    if (e - b !== want || b !== at) {
      throw new PacketFormatError(
        `${name} occupies bytes ${b}..${e} of the ${dataLen}-byte data region, want ${want} bytes from ${at}: tensors must tile the data exactly (truncated or corrupt)`,
      );
    }
    at = e;
  }
  if (at !== dataLen) {
    throw new PacketFormatError(
      `the tensors end at byte ${at} of a ${dataLen}-byte data region: ${at < dataLen ? 'trailing bytes' : 'truncated'}`,
    );
  }
}

/** requested/generated/kept, perClass and threshold must describe the data as it is. */
function checkAgreement(m: PacketMetadata, softLabels: Float32Array, n: number): void {
  if (m.kept > m.requested || m.kept > m.generated) {
    throw new PacketFormatError(
      `metadata says kept=${m.kept} of generated=${m.generated} for requested=${m.requested}: kept cannot exceed either`,
    );
  }
  const k = m.classIds.length;
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 0; j < k; j++) {
      const v = softLabels[i * k + j]!;
      if (!(v >= 0 && v <= 1.0001))
        throw new PacketFormatError(`soft label ${v} of sample ${i} is not a probability`);
      if (v > softLabels[i * k + best]!) best = j;
    }
    if (softLabels[i * k + best]! < m.threshold) {
      throw new PacketFormatError(
        `sample ${i} has top probability ${softLabels[i * k + best]} below metadata.threshold ${m.threshold}`,
      );
    }
    counts[best]!++;
  }
  const ids = new Map(m.classIds.map((id, j) => [String(id), j]));
  for (const key of Object.keys(m.perClass)) {
    if (!ids.has(key))
      throw new PacketFormatError(`metadata.perClass names ${key}, not one of classIds`);
  }
  for (const [key, j] of ids) {
    if ((m.perClass[key] ?? 0) !== counts[j]) {
      throw new PacketFormatError(
        `metadata.perClass[${key}]=${m.perClass[key] ?? 0} but ${counts[j]} samples have it as their top class`,
      );
    }
  }
}
