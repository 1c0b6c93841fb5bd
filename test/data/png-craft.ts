import { deflateSync } from 'node:zlib';
import { pngChunk } from '../../src/core/png';

/** Test helper: a PNG built chunk by chunk (the encoder's own chunk writer), valid or broken. */
export { pngChunk };

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
