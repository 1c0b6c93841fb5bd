import { gzipSync } from 'node:zlib';

/** IDX bytes of unsigned-byte data (dtype 0x08) with the given shape: the inverse of parseIdx. */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new Error(`IDX shape ${shape.join('x')} holds ${size} bytes, data has ${data.length}`);
  }
  const out = new Uint8Array(4 + 4 * shape.length + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((n, i) => {
    view.setUint32(4 + 4 * i, n, false);
  });
  out.set(data, 4 + 4 * shape.length);
  return out;
}

/** The four standard files of an IDX dataset folder, gzipped, by file name. */
export function idxFolderFiles(split: {
  train: { images: Uint8Array; labels: Uint8Array; count: number };
  test: { images: Uint8Array; labels: Uint8Array; count: number };
  imageShape: readonly [number, number, number];
}): Record<string, Uint8Array> {
  const [h, w, c] = split.imageShape;
  const dims = (n: number) => (c === 1 ? [n, h, w] : [n, h, w, c]);
  const kind = c === 1 ? 'idx3' : 'idx4';
  return {
    [`train-images-${kind}-ubyte.gz`]: gzipSync(
      encodeIdx(dims(split.train.count), split.train.images),
    ),
    'train-labels-idx1-ubyte.gz': gzipSync(encodeIdx([split.train.count], split.train.labels)),
    [`t10k-images-${kind}-ubyte.gz`]: gzipSync(
      encodeIdx(dims(split.test.count), split.test.images),
    ),
    't10k-labels-idx1-ubyte.gz': gzipSync(encodeIdx([split.test.count], split.test.labels)),
  };
}
