import { createRng, permutation } from '../core/rng';
import type { Dataset } from './idx';

/** Which global class ids each network owns. */
export type Partition = number[][];

export class PartitionError extends Error {
  override name = 'PartitionError';
}

/**
 * The paper's split: shuffle the class ids with a seeded RNG and cut them into `parts`
 * groups of (nearly) equal size; each group is sorted.
 */
export function randomPartition(
  classIds: readonly number[],
  parts: number,
  seed: number,
): Partition {
  if (!Number.isInteger(parts) || parts < 1)
    throw new PartitionError(`networks must be a positive integer, got ${parts}`);
  if (parts > classIds.length) {
    throw new PartitionError(
      `cannot split ${classIds.length} classes into ${parts} non-empty networks`,
    );
  }
  const order = permutation(classIds.length, createRng(seed));
  const out: Partition = Array.from({ length: parts }, () => []);
  order.forEach((idx, i) => {
    out[Math.floor((i * parts) / classIds.length)]!.push(classIds[idx]!);
  });
  return out.map((g) => g.sort((a, b) => a - b));
}

/** Parse `0,1,2/3,4,5,6/7,8,9`: networks separated by `/`, class ids by `,`. */
export function parsePartition(spec: string): Partition {
  const groups = spec.split('/').map((g, i) =>
    g.split(',').map((s) => {
      const t = s.trim();
      if (!/^\d+$/.test(t)) {
        throw new PartitionError(
          `partition "${spec}": network ${i + 1} has "${t}", not a class id; write e.g. 0,1,2/3,4,5`,
        );
      }
      return Number(t);
    }),
  );
  return groups;
}

/** Disjoint, non-empty, and every class present in the data. */
export function validatePartition(
  partition: Partition,
  classIdsInData: readonly number[],
): Partition {
  if (partition.length < 1) throw new PartitionError('partition has no networks');
  const seen = new Map<number, number>();
  const known = new Set(classIdsInData);
  partition.forEach((group, i) => {
    if (group.length === 0) throw new PartitionError(`network ${i + 1} has no classes`);
    for (const c of group) {
      if (!known.has(c)) {
        throw new PartitionError(
          `class ${c} (network ${i + 1}) does not occur in the data; classes present: ${classIdsInData.join(',')}`,
        );
      }
      const prev = seen.get(c);
      if (prev !== undefined) {
        throw new PartitionError(
          `class ${c} is in network ${prev + 1} and network ${i + 1}; networks must be disjoint`,
        );
      }
      seen.set(c, i);
    }
  });
  return partition.map((g) => [...g].sort((a, b) => a - b));
}

/** The samples of `ds` whose label is in `classes`, in their original order. */
export function selectClasses(ds: Dataset, classes: readonly number[]): Dataset {
  const keep = new Set(classes);
  const pixels = ds.imageShape[0] * ds.imageShape[1] * ds.imageShape[2];
  const idx: number[] = [];
  for (let i = 0; i < ds.count; i++) if (keep.has(ds.labels[i]!)) idx.push(i);
  const images = new Uint8Array(idx.length * pixels);
  const labels = new Uint8Array(idx.length);
  idx.forEach((src, dst) => {
    images.set(ds.images.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
    labels[dst] = ds.labels[src]!;
  });
  return { ...ds, images, labels, count: idx.length };
}

/** Default network ids: net-a, net-b, ... */
export function networkIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    i < 26 ? `net-${String.fromCharCode(97 + i)}` : `net-${i + 1}`,
  );
}
