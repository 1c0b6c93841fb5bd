import type { ImageShape } from '../core/manifest';

/** One split of a dataset in memory, whatever layout it was read from. */
export interface Dataset {
  name: string;
  /** N*H*W*C bytes, 0..255, row-major NHWC. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  imageShape: ImageShape;
}

/** How a dataset folder is laid out: the four IDX files, or train/<class>/*.png + test/<class>/*.png. */
export type DatasetLayout = 'idx' | 'image-folder';

export interface DatasetPair {
  name: string;
  train: Dataset;
  test: Dataset;
  /** Distinct class ids present in the training labels, ascending. */
  classIds: number[];
  /** Where it was read from; absent on pairs built in memory. */
  layout?: DatasetLayout;
  /**
   * Image folders only: the class folder name of each entry of `classIds` (same order), i.e.
   * the name -> id mapping (see `classIdsFromNames` in image-folder.ts). Absent for IDX.
   */
  classNames?: string[];
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}
