import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { ReadFile } from '../core/model-folder';

/** Write a file atomically: a temp file beside it, then rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * `writeFileAtomic`, unless `path` already holds exactly `data`: then the file is left as it
 * is (same inode, same mtime), so whoever watches it sees no change. The old file is read
 * only when its size is `data`'s, which bounds the read.
 */
export async function writeFileAtomicIfChanged(
  path: string,
  data: Uint8Array | string,
): Promise<void> {
  const bytes =
    typeof data === 'string'
      ? Buffer.from(data)
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size === bytes.length && bytes.equals(await readFile(path))) return;
  await writeFileAtomic(path, bytes);
}

/**
 * Write a whole folder atomically: fill a temp folder beside `dir`, then swap it in with
 * renames. Readers see either the old folder or the new one, never a mix; on failure
 * nothing is left behind.
 *
 * `keepExisting`: first writer wins. When `dir` already exists and this says it is good
 * (e.g. a concurrent writer of the same content finished first), it is left untouched and
 * this write is discarded, so a reader of the existing folder never sees it move.
 */
export async function writeFolderAtomic(
  dir: string,
  files: Record<string, Uint8Array | string>,
  opts: { keepExisting?: (dir: string) => Promise<boolean> } = {},
): Promise<void> {
  const target = resolve(dir);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${target}.tmp-${suffix}`;
  const old = `${target}.old-${suffix}`;
  try {
    for (const [rel, data] of Object.entries(files)) {
      const p = join(tmp, rel);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, data);
    }
    await mkdir(dirname(target), { recursive: true });
    if (opts.keepExisting) {
      try {
        await rename(tmp, target); // succeeds where no folder (or an empty one) is in the way
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        if (await opts.keepExisting(target)) {
          await rm(tmp, { recursive: true, force: true });
          return;
        }
      }
    }
    let hadOld = true;
    try {
      await rename(target, old);
    } catch {
      hadOld = false;
    }
    await rename(tmp, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Whether `inner` lies strictly inside `outer` (both absolute). */
function inside(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * A `ReadFile` over a folder on disk; refuses paths that leave the folder, by their shape or
 * through a symlink (the real path of every file read must lie inside the folder's real path).
 */
export function folderReader(dir: string): ReadFile {
  const root = resolve(dir);
  let realRoot: Promise<string> | undefined;
  return async (rel) => {
    const p = resolve(root, rel);
    if (!inside(p, root)) throw new Error(`path ${rel} leaves ${root}`);
    realRoot ??= realpath(root);
    const real = await realpath(p);
    if (!inside(real, await realRoot)) {
      throw new Error(`${rel} is a symlink that leads outside the model folder (to ${real})`);
    }
    return new Uint8Array(await readFile(real));
  };
}

/** Whether a path exists (file or folder). */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
