import { deflateSync } from 'node:zlib';

/** Test helper: a PNG built chunk by chunk, to make valid images of any kind and broken ones. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export interface CraftOptions {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** Unfiltered rows, packed as the PNG bit depth says; a 0 filter byte is put before each. */
  rows: Uint8Array[];
  palette?: number[][];
  /** Replaces the deflated image data (to make broken files). */
  idat?: Uint8Array;
}

export function craftPng(o: CraftOptions): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, o.width);
  v.setUint32(4, o.height);
  ihdr[8] = o.depth;
  ihdr[9] = o.colorType;
  const raw = new Uint8Array(o.rows.reduce((s, r) => s + r.length + 1, 0));
  let p = 0;
  for (const r of o.rows) {
    raw[p++] = 0;
    raw.set(r, p);
    p += r.length;
  }
  const chunks = [pngChunk('IHDR', ihdr)];
  if (o.palette) chunks.push(pngChunk('PLTE', Uint8Array.from(o.palette.flat())));
  chunks.push(pngChunk('IDAT', o.idat ?? deflateSync(raw)), pngChunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(8 + chunks.reduce((s, c) => s + c.length, 0));
  out.set([137, 80, 78, 71, 13, 10, 26, 10]);
  let o2 = 8;
  for (const c of chunks) {
    out.set(c, o2);
    o2 += c.length;
  }
  return out;
}
