import { encodePng } from '../../core/png';
import type { SampleSet } from '../../core/sampling';
import { PreviewQuerySchema } from '../query';
import { generate, packetEtag } from '../served-network';
import { generatedRoute } from './generated';

const PAD = 2;
const MAX_COLUMNS = 16;

/**
 * Lay samples out in a grid, grouped by predicted class: each class starts a new row (in
 * the network's class order); a class with more than `columns` samples wraps.
 */
export function previewGrid(
  set: SampleSet,
  imageShape: readonly [number, number, number],
  classes: readonly number[],
  columns: number,
): { png: Uint8Array; rows: string } {
  const [h, w, c] = imageShape;
  const outC = c === 3 || c === 4 ? c : 1;
  const byClass = classes.map((_, k) => {
    const idx: number[] = [];
    for (let i = 0; i < set.kept; i++) if (set.predicted[i] === k) idx.push(i);
    return idx;
  });
  const layout: { classId: number; items: number[] }[] = [];
  byClass.forEach((idx, k) => {
    for (let s = 0; s < idx.length; s += columns) {
      layout.push({ classId: classes[k]!, items: idx.slice(s, s + columns) });
    }
  });
  const rows = Math.max(1, layout.length);
  const width = columns * (w + PAD) + PAD;
  const height = rows * (h + PAD) + PAD;
  const out = new Uint8Array(width * height * outC).fill(96);
  layout.forEach((row, r) => {
    row.items.forEach((i, col) => {
      const x0 = PAD + col * (w + PAD);
      const y0 = PAD + r * (h + PAD);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const src = ((i * h + y) * w + x) * c;
          const dst = ((y0 + y) * width + x0 + x) * outC;
          for (let ch = 0; ch < outC; ch++) out[dst + ch] = set.images[src + ch]!;
        }
      }
    });
  });
  return {
    png: encodePng(out, width, height, outC as 1 | 3 | 4),
    rows: layout.map((r) => `${r.classId}:${r.items.length}`).join(','),
  };
}

/** `GET /v1/preview.png`: generated samples as a PNG grid, one row group per predicted class. */
export const previewRoutes = generatedRoute({
  path: '/preview.png',
  query: PreviewQuerySchema,
  count: (l) => ({ count: l.defaultPreviewCount, maxCount: l.maxPreviewCount }),
  etag: async (served, p) => `"png-${(await packetEtag(served, p)).slice(1)}`,
  make: async (served, p, signal) => {
    const set = await generate(served, p, signal);
    const columns = Math.min(MAX_COLUMNS, Math.max(1, Math.ceil(Math.sqrt(p.count))));
    const { png, rows } = previewGrid(
      set,
      served.net.manifest.dataset.imageShape,
      served.net.manifest.classes,
      columns,
    );
    return { body: png, headers: { 'content-type': 'image/png', 'x-preview-rows': rows } };
  },
});
