import type { LoadedNetwork } from '../core/model-folder';
import type { DatasetPair } from '../data/idx';
import { selectClasses } from '../data/partition';
import { pairsGridPng } from './grid';
import { referenceSet } from './nearest';
import { sharedSamples } from './samples';
import { closest, type HeldOutStats, heldOutStats, type SampleStats, sampleStats } from './stats';

/**
 * The memorisation audit: does a network share images that sit closer to its training images
 * than real unseen images do? For every generated sample (as its endpoint would share it) the
 * L2 distance to the nearest training image of the network's classes, against the same
 * distance for held-out test images of those classes.
 */
export const MAX_AUDIT_COUNT = 10_000;

/** What `npm run audit` writes into its output folder. */
export const AUDIT_FILES = ['closest-pairs.png', 'audit.json'] as const;

export class AuditError extends Error {
  override name = 'AuditError';
}

export interface AuditOptions {
  net: LoadedNetwork;
  data: DatasetPair;
  generators: readonly string[];
  /** Samples per generator (at most MAX_AUDIT_COUNT). */
  count: number;
  /** Held-out test images compared (at most MAX_AUDIT_COUNT; fewer when the test set has fewer). */
  holdout: number;
  seed: number;
  threshold?: number;
  /** Closest pairs shown per generator. Default 8. */
  pairs?: number;
  onProgress?: (line: string) => void;
}

export interface GeneratorAudit extends SampleStats {
  generator: string;
  closest: { distance: number; trainIndex: number }[];
}

export interface AuditResult {
  networkId: string;
  classes: number[];
  trainImages: number;
  heldOut: HeldOutStats;
  generators: GeneratorAudit[];
  /** The closest pairs: one row per generator, sample beside its nearest training image. */
  png: Uint8Array;
}

/** Evenly spaced `k` of `n` indices: a deterministic subset across the whole test set. */
function spread(n: number, k: number): number[] {
  return Array.from({ length: Math.min(n, k) }, (_, i) => Math.floor((i * n) / Math.min(n, k)));
}

export async function runAudit(opts: AuditOptions): Promise<AuditResult> {
  for (const [name, v] of [
    ['count', opts.count],
    ['holdout', opts.holdout],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_AUDIT_COUNT)
      throw new AuditError(`${name} ${v}: want 1..${MAX_AUDIT_COUNT}`);
  }
  const { manifest } = opts.net;
  const shape = manifest.dataset.imageShape;
  if (opts.data.train.imageShape.join('x') !== shape.join('x')) {
    throw new AuditError(
      `the data's images are ${opts.data.train.imageShape.join('x')}, the network's ${shape.join('x')}: audit with the data it was trained on (--data-dir)`,
    );
  }
  const px = shape[0] * shape[1] * shape[2];
  const train = selectClasses(opts.data.train, manifest.classes);
  const test = selectClasses(opts.data.test, manifest.classes);
  if (train.count === 0 || test.count === 0) {
    throw new AuditError(
      `the data has ${train.count} training and ${test.count} test images of classes ${manifest.classes.join(',')}`,
    );
  }
  const log = opts.onProgress ?? (() => {});
  const refs = referenceSet(train.images, px);
  try {
    const idx = spread(test.count, opts.holdout);
    const held = new Uint8Array(idx.length * px);
    idx.forEach((src, i) => {
      held.set(test.images.subarray(src * px, (src + 1) * px), i * px);
    });
    log(`held-out: ${idx.length} test images vs ${train.count} training images`);
    const heldOut = heldOutStats((await refs.nearest(held)).distance);
    const generators: GeneratorAudit[] = [];
    const rows: { pairs: [Uint8Array, Uint8Array][] }[] = [];
    for (const generator of opts.generators) {
      log(`${generator}: generating ${opts.count} samples`);
      const samples = await sharedSamples(opts.net, {
        generator,
        count: opts.count,
        seed: opts.seed,
        ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
      });
      log(`${generator}: nearest training images`);
      const nn = await refs.nearest(samples);
      const top = closest(nn.distance, opts.pairs ?? 8);
      generators.push({
        generator,
        ...sampleStats(nn.distance, heldOut),
        closest: top.map((i) => ({ distance: nn.distance[i]!, trainIndex: nn.index[i]! })),
      });
      rows.push({
        pairs: top.map((i) => {
          const t = nn.index[i]!;
          return [samples.slice(i * px, (i + 1) * px), train.images.slice(t * px, (t + 1) * px)];
        }),
      });
    }
    return {
      networkId: manifest.networkId,
      classes: [...manifest.classes],
      trainImages: train.count,
      heldOut,
      generators,
      png: pairsGridPng(rows, shape),
    };
  } finally {
    refs.dispose();
  }
}

/** One line per generator whose share under the held-out 1st percentile exceeds `maxShare`. */
export function auditFailures(result: AuditResult, maxShare: number): string[] {
  return result.generators
    .filter((g) => g.shareBelowP1 > maxShare)
    .map(
      (g) =>
        `${g.generator}: ${(100 * g.shareBelowP1).toFixed(1)} % of samples are closer to a training image than 99 % of held-out images (--max-share ${(100 * maxShare).toFixed(1)} %)`,
    );
}
