import { join } from 'node:path';
import type { Manifest } from '../core/manifest';
import { type DatasetPair, loadDataset } from '../data/idx';
import {
  networkIds,
  type Partition,
  PartitionError,
  parsePartition,
  randomPartition,
  validatePartition,
} from '../data/partition';
import { type TrainNetworkOptions, trainAndExport } from './train-network';

/** Per-network training settings, plus the partition and where to write. */
export interface TrainAllOptions
  extends Omit<TrainNetworkOptions, 'networkId' | 'classes' | 'data'> {
  dataDir?: string | undefined;
  /** Explicit partition (`0,1,2/3,4`); else a seeded random split into `networks` parts. */
  partition?: string | undefined;
  networks: number;
  /** Seed of the random class split (the paper's split is drawn, not fixed). */
  splitSeed: number;
  ids?: string[] | undefined;
  /** Train only these network ids of the partition (e.g. to run networks in parallel processes). */
  only?: string[] | undefined;
  outDir: string;
  /** Called before each network starts training. */
  onNetwork?: ((id: string, classes: number[]) => void) | undefined;
  /** An already loaded dataset (else read from `dataDir`). */
  data?: DatasetPair | undefined;
}

export function resolvePartition(
  opts: Pick<TrainAllOptions, 'partition' | 'networks' | 'splitSeed'>,
  classIds: readonly number[],
): Partition {
  const p = opts.partition
    ? parsePartition(opts.partition)
    : randomPartition(classIds, opts.networks, opts.splitSeed);
  return validatePartition(p, classIds);
}

/** Train and export every network of a partition, one after the other. */
export async function trainAll(opts: TrainAllOptions): Promise<Manifest[]> {
  const data = opts.data ?? (await loadDataset({ dataDir: opts.dataDir }));
  const partition = resolvePartition(opts, data.classIds);
  const ids = opts.ids ?? networkIds(partition.length);
  if (ids.length !== partition.length) {
    throw new PartitionError(
      `${ids.length} network ids for ${partition.length} networks; give one id per network`,
    );
  }
  const unknown = opts.only?.filter((id) => !ids.includes(id)) ?? [];
  if (unknown.length > 0)
    throw new PartitionError(
      `--only ${unknown.join(',')}: not among the networks ${ids.join(',')}`,
    );
  const out: Manifest[] = [];
  for (const [i, classes] of partition.entries()) {
    const id = ids[i]!;
    if (opts.only && !opts.only.includes(id)) continue;
    opts.onNetwork?.(id, classes);
    out.push(
      await trainAndExport(join(opts.outDir, id), { ...opts, networkId: id, classes, data }),
    );
  }
  return out;
}
