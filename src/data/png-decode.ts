import { inflateSync } from 'node:zlib';
import { decode } from 'fast-png';
import { DatasetError } from './dataset';

/**
 * One PNG file as 8-bit grayscale (1 channel) or RGB (3 channels). Pixels are decoded by
 * fast-png; before that the chunks are walked here so that broken files get a clear message
 * and so that no file can inflate past what its header's width x height needs (a PNG of a few
 * KiB can otherwise decompress to gigabytes).
 *
 * Accepted: bit depth 8 of every colour type (grayscale, grayscale+alpha, RGB, RGBA), 1/2/4-bit
 * grayscale (scaled to 0..255) and palette images of any depth (gray palettes give 1 channel,
 * colour palettes 3). Alpha is dropped, as torchvision's ImageFolder does (`convert('RGB')`).
 * 16-bit images are refused: converting them silently would lose or clip data.
 */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
}

/** Bound on one image's pixel count (width x height). */
export const MAX_IMAGE_PIXELS = 16 * 2 ** 20;

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Samples per pixel by PNG colour type. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const TYPE_NAMES: Record<number, string> = {
  0: 'grayscale',
  2: 'RGB',
  3: 'palette',
  4: 'grayscale+alpha',
  6: 'RGBA',
};
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function notPng(bytes: Uint8Array, file: string): DatasetError {
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
  const kind =
    bytes.length === 0
      ? 'an empty file'
      : head.startsWith('ffd8ff')
        ? 'a JPEG image'
        : head.startsWith('47494638')
          ? 'a GIF image'
          : head.startsWith('424d')
            ? 'a BMP image'
            : head === '52494646'
              ? 'a RIFF (WebP?) file'
              : `not a PNG (it starts with 0x${head})`;
  return new DatasetError(
    `${file}: ${kind}; the image-folder layout reads PNG images only: convert it to PNG (e.g. \`magick in.jpg out.png\`) or move it out of the dataset folder`,
  );
}

/** Bytes of the filtered (pre-unfilter) image data a header describes. */
function rawSize(w: number, h: number, samples: number, depth: number, interlaced: boolean) {
  const row = (pw: number) => 1 + Math.ceil((pw * samples * depth) / 8);
  if (!interlaced) return h * row(w);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const pw = w > x0 ? Math.ceil((w - x0) / dx) : 0;
    const ph = h > y0 ? Math.ceil((h - y0) / dy) : 0;
    if (pw > 0 && ph > 0) total += ph * row(pw);
  }
  return total;
}

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
}

/** Walk the chunks: a clear error for truncated or malformed files; the IDAT payloads. */
function readChunks(bytes: Uint8Array, file: string): { header: Header; idat: Uint8Array[] } {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw notPng(bytes, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const truncated = (where: string) =>
    new DatasetError(
      `${file}: truncated PNG (${bytes.length} bytes, ends inside ${where}); the file was cut short: copy or export it again`,
    );
  let header: Header | undefined;
  const idat: Uint8Array[] = [];
  let o = 8;
  for (;;) {
    if (o + 8 > bytes.length) throw truncated('a chunk header');
    const length = view.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (length > 0x7fffffff) throw new DatasetError(`${file}: broken PNG (chunk ${type} too long)`);
    if (o + 12 + length > bytes.length) throw truncated(`the ${type} chunk`);
    if (header === undefined) {
      if (type !== 'IHDR' || length !== 13) {
        throw new DatasetError(`${file}: broken PNG (first chunk is ${type}, not IHDR)`);
      }
      header = {
        width: view.getUint32(o + 8),
        height: view.getUint32(o + 12),
        depth: bytes[o + 16]!,
        colorType: bytes[o + 17]!,
        interlaced: bytes[o + 20] === 1,
      };
    } else if (type === 'IDAT') idat.push(bytes.subarray(o + 8, o + 8 + length));
    else if (type === 'IEND') return { header, idat };
    o += 12 + length;
  }
}

function checkHeader(h: Header, file: string): void {
  const { width, height, depth, colorType } = h;
  if (SAMPLES[colorType] === undefined)
    throw new DatasetError(`${file}: broken PNG (unknown colour type ${colorType})`);
  const type = TYPE_NAMES[colorType]!;
  if (depth === 16) {
    throw new DatasetError(
      `${file}: 16-bit ${type} PNG; only 8-bit images are read (a silent conversion would lose data): convert it to 8 bits, e.g. \`magick in.png -depth 8 out.png\``,
    );
  }
  const depthOk = colorType === 0 || colorType === 3 ? [1, 2, 4, 8].includes(depth) : depth === 8;
  if (!depthOk)
    throw new DatasetError(`${file}: broken PNG (bit depth ${depth} is invalid for ${type})`);
  if (h.interlaced && depth < 8) {
    // fast-png 8.0.0 mis-decodes these (it reads one byte per sample in Adam7 passes)
    throw new DatasetError(
      `${file}: interlaced ${depth}-bit ${type} PNG is not supported; re-save it without interlacing or as 8-bit`,
    );
  }
  if (width < 1 || height < 1 || width * height > MAX_IMAGE_PIXELS) {
    throw new DatasetError(
      `${file}: ${width}x${height} pixels; images must hold 1 to ${MAX_IMAGE_PIXELS} pixels`,
    );
  }
}

/** Unpack 1/2/4/8-bit samples (rows padded to whole bytes) to one byte each. */
function unpack(data: Uint8Array, w: number, h: number, depth: number): Uint8Array {
  if (depth === 8) return data;
  const out = new Uint8Array(w * h);
  const rowBytes = Math.ceil((w * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      out[y * w + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function toGrayOrRgb(
  data: Uint8Array,
  h: Header,
  palette: number[][] | undefined,
  file: string,
): { channels: 1 | 3; pixels: Uint8Array } {
  const n = h.width * h.height;
  const pick = (step: number, keep: number) => {
    const out = new Uint8Array(n * keep);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < keep; c++) out[i * keep + c] = data[i * step + c]!;
    return out;
  };
  switch (h.colorType) {
    case 0: {
      const v = unpack(data, h.width, h.height, h.depth);
      const scale = 255 / ((1 << h.depth) - 1);
      return { channels: 1, pixels: h.depth === 8 ? v : v.map((x) => Math.round(x * scale)) };
    }
    case 2:
      return { channels: 3, pixels: data };
    case 4:
      return { channels: 1, pixels: pick(2, 1) };
    case 6:
      return { channels: 3, pixels: pick(4, 3) };
    default: {
      if (!palette || palette.length === 0)
        throw new DatasetError(`${file}: broken PNG (palette image without a PLTE chunk)`);
      const idx = unpack(data, h.width, h.height, h.depth);
      const gray = palette.every((c) => c[0] === c[1] && c[1] === c[2]);
      const k = gray ? 1 : 3;
      const out = new Uint8Array(n * k);
      for (let i = 0; i < n; i++) {
        const c = palette[idx[i]!];
        if (!c) {
          throw new DatasetError(
            `${file}: broken PNG (pixel ${i} uses palette entry ${idx[i]} of ${palette.length})`,
          );
        }
        for (let j = 0; j < k; j++) out[i * k + j] = c[j]!;
      }
      return { channels: gray ? 1 : 3, pixels: out };
    }
  }
}

/** Decode one PNG file's bytes; `file` names it in errors. */
export function decodePngImage(bytes: Uint8Array, file: string): DecodedImage {
  const { header, idat } = readChunks(bytes, file);
  checkHeader(header, file);
  if (idat.length === 0) throw new DatasetError(`${file}: broken PNG (no IDAT image data)`);
  const need = rawSize(
    header.width,
    header.height,
    SAMPLES[header.colorType]!,
    header.depth,
    header.interlaced,
  );
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: need });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DatasetError(
      err.code === 'ERR_BUFFER_TOO_LARGE'
        ? `${file}: broken PNG (its image data inflates to more than the ${need} bytes a ${header.width}x${header.height} image needs)`
        : `${file}: broken PNG (image data does not decompress: ${err.message}); export the image again`,
    );
  }
  if (inflated.length < need) {
    throw new DatasetError(
      `${file}: truncated PNG (image data holds ${inflated.length} of the ${need} bytes a ${header.width}x${header.height} image needs); export the image again`,
    );
  }
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes, { checkCrc: true });
  } catch (e) {
    throw new DatasetError(
      `${file}: broken PNG (${(e as Error).message}); export or re-save the image`,
    );
  }
  const d = png.data;
  const data = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return {
    width: header.width,
    height: header.height,
    ...toGrayOrRgb(data, header, png.palette, file),
  };
}
