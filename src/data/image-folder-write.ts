import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { encodePng } from '../core/png';
import { DatasetError, type DatasetPair } from './dataset';

/**
 * Write a dataset as the image-folder layout: `<out>/{train,test}/<class>/<index>.png`, the
 * inverse of readImageFolder. Class folders are named by `classNames` when the pair has them,
 * else by the class id (`0`..`9`), which the loader maps back to the same ids. File names are
 * the image's index in its split, zero-padded, so sorted names keep the split's order within
 * a class. Files go into a temp folder beside `out`, renamed into place at the end; a
 * non-empty `out` is refused unless `force`.
 */
export async function writeImageFolder(
  data: DatasetPair,
  out: string,
  opts: { force?: boolean } = {},
): Promise<{ files: number }> {
  const target = resolve(out);
  const existing = await readdir(target).catch(() => [] as string[]);
  if (existing.length > 0 && !opts.force) {
    throw new DatasetError(`${out}: not empty; choose another folder or pass --force`);
  }
  const [h, w, c] = data.train.imageShape;
  if (c !== 1 && c !== 3 && c !== 4) {
    throw new DatasetError(`${data.name}: images have ${c} channels; PNG folders hold 1, 3 or 4`);
  }
  const names = new Map(data.classIds.map((id, i) => [id, data.classNames?.[i] ?? String(id)]));
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${target}.tmp-${suffix}`;
  let files = 0;
  try {
    for (const split of ['train', 'test'] as const) {
      const ds = data[split];
      const px = h * w * c;
      const digits = String(Math.max(0, ds.count - 1)).length;
      for (const name of new Set(ds.labels)) {
        const folder = names.get(name);
        if (folder === undefined)
          throw new DatasetError(`${split} label ${name} is not a class id`);
        await mkdir(join(tmp, split, folder), { recursive: true });
      }
      for (let i = 0; i < ds.count; i++) {
        const folder = names.get(ds.labels[i]!)!;
        const png = encodePng(ds.images.subarray(i * px, (i + 1) * px), w, h, c);
        await writeFile(join(tmp, split, folder, `${String(i).padStart(digits, '0')}.png`), png);
        files++;
      }
    }
    await mkdir(dirname(target), { recursive: true });
    const old = `${target}.old-${suffix}`;
    const hadOld = await rename(target, old).then(
      () => true,
      () => false,
    );
    await rename(tmp, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { files };
}
