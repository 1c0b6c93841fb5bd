import { encodePng } from '../core/png';

/**
 * The closest pairs as one PNG: a row per generator, each pair a generated sample beside its
 * nearest training image (1 px apart), pairs 6 px apart, on a mid-grey background.
 */
export interface PairRow {
  /** Pairs of [sample, nearest training image], each H*W*C bytes. */
  pairs: [Uint8Array, Uint8Array][];
}

export function pairsGridPng(
  rows: PairRow[],
  imageShape: readonly [number, number, number],
): Uint8Array {
  const [h, w, c] = imageShape;
  if (c !== 1 && c !== 3) throw new RangeError(`pairs grid: ${c} channels, want 1 or 3`);
  const pad = 6;
  const perRow = Math.max(1, ...rows.map((r) => r.pairs.length));
  const width = pad + perRow * (2 * w + 1 + pad);
  const height = pad + Math.max(1, rows.length) * (h + pad);
  const img = new Uint8Array(width * height * c).fill(128);
  const blit = (src: Uint8Array, x0: number, y0: number) => {
    for (let y = 0; y < h; y++) {
      img.set(src.subarray(y * w * c, (y + 1) * w * c), ((y0 + y) * width + x0) * c);
    }
  };
  rows.forEach((row, r) => {
    const y0 = pad + r * (h + pad);
    row.pairs.forEach(([sample, train], i) => {
      const x0 = pad + i * (2 * w + 1 + pad);
      blit(sample, x0, y0);
      blit(train, x0 + w + 1, y0);
    });
  });
  return encodePng(img, width, height, c);
}
