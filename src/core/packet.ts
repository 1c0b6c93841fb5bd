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

const TensorInfoSchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
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

/** Parse packet bytes; throws PacketFormatError naming what is wrong. */
export function decodePacket(bytes: Uint8Array): Packet {
  if (bytes.length < 8) throw new PacketFormatError(`packet is ${bytes.length} bytes: truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > PACKET_HEADER_LIMIT || 8 + headerLen > bytes.length) {
    throw new PacketFormatError(
      `header length ${headerLen} exceeds the ${bytes.length}-byte body: truncated or not a packet`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new PacketFormatError('safetensors header is not valid JSON');
  }
  const parsedHeader = z
    .object({
      __metadata__: z.record(z.string(), z.unknown()),
      images: TensorInfoSchema,
      soft_labels: TensorInfoSchema,
    })
    .safeParse(header);
  if (!parsedHeader.success) {
    throw new PacketFormatError(
      `safetensors header lacks images/soft_labels/__metadata__: ${parsedHeader.error.issues[0]?.message}`,
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
  if (images.dtype !== 'U8' || images.shape.length !== 4)
    throw new PacketFormatError('images must be U8 [N,H,W,C]');
  if (labels.dtype !== 'F32' || labels.shape.length !== 2)
    throw new PacketFormatError('soft_labels must be F32 [N,K]');
  const [n, h, w, c] = images.shape as [number, number, number, number];
  const [ln, k] = labels.shape as [number, number];
  if (ln !== n) throw new PacketFormatError(`images has ${n} samples, soft_labels ${ln}`);
  if (k !== metadata.classIds.length)
    throw new PacketFormatError(
      `soft_labels has ${k} columns, metadata.classIds ${metadata.classIds.length}`,
    );
  if (metadata.kept !== n)
    throw new PacketFormatError(`metadata.kept=${metadata.kept} but packet holds ${n}`);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const check = (name: string, [b, e]: [number, number], want: number) => {
    if (e - b !== want || e > dataLen || b > e) {
      throw new PacketFormatError(
        `${name} occupies bytes ${b}..${e} of ${dataLen}, want ${want} bytes: truncated or corrupt`,
      );
    }
  };
  check('images', images.data_offsets, n * h * w * c);
  check('soft_labels', labels.data_offsets, n * k * 4);
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
  return { metadata, images: imgBytes, imageShape: [h, w, c], softLabels };
}
