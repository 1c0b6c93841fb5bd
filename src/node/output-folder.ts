import { lstat, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { CliError } from './cli';

/**
 * The one rule for every command that writes a folder a user names (finetune --out, train
 * --out, ...): never destroy what the command did not create.
 *   - an absent or empty folder is used, and so is one holding only the files this command
 *     writes (`ownFiles`: its own earlier output);
 *   - a non-empty folder is refused unless `force` (then the caller replaces it atomically,
 *     temp folder + rename over, only after its work succeeded: see writeFolderAtomic);
 *   - a folder equal to, inside, or holding a protected folder (e.g. finetune's --target)
 *     is always refused, --force or not, so the protected folder is never written;
 *   - a path that exists but is not a folder is always refused.
 * Call it before any work starts, so a refusal costs nothing.
 */
export interface OutputFolderOptions {
  /** The flag that named the folder, for messages (e.g. '--out'). */
  flag?: string;
  /** Replace a non-empty folder (after success). */
  force?: boolean;
  /**
   * The file names this command writes: a folder holding nothing else is this command's own
   * earlier output, and is replaced without --force.
   */
  ownFiles?: readonly string[] | ((name: string) => boolean);
  /** What --force does, for the refusal message. Default: replace it once the run succeeds. */
  forceHint?: string;
  /** Folders the output must not equal, lie inside, or contain: [flag, path] pairs. */
  protect?: readonly (readonly [string, string])[];
}

/** The real path of `p`, resolving symlinks in its longest existing prefix. */
async function realPathOf(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(await realPathOf(parent), basename(abs));
  }
}

/** Whether `inner` is `outer` or lies inside it (both absolute real paths). */
function within(inner: string, outer: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export async function checkOutputFolder(
  dir: string,
  opts: OutputFolderOptions = {},
): Promise<void> {
  const flag = opts.flag ?? '--out';
  const out = await realPathOf(dir);
  for (const [pFlag, pDir] of opts.protect ?? []) {
    const prot = await realPathOf(pDir);
    if (within(out, prot)) {
      throw new CliError(
        `${flag} ${dir} is ${out === prot ? 'the same folder as' : 'inside'} ${pFlag} ${pDir}, which is never written: choose another ${flag} folder`,
      );
    }
    if (within(prot, out)) {
      throw new CliError(
        `${flag} ${dir} contains ${pFlag} ${pDir}: replacing it would destroy ${pDir}; choose another ${flag} folder`,
      );
    }
  }
  let isDir: boolean;
  try {
    isDir = (await lstat(dir)).isDirectory();
  } catch {
    return; // absent: the command creates it
  }
  if (!isDir) {
    throw new CliError(
      `${flag} ${dir} exists and is not a folder: remove it or choose another ${flag}`,
    );
  }
  const entries = await readdir(dir);
  const { ownFiles } = opts;
  const isOwn = typeof ownFiles === 'function' ? ownFiles : (e: string) => !!ownFiles?.includes(e);
  const own = ownFiles !== undefined && entries.every(isOwn);
  if (entries.length > 0 && !opts.force && !own) {
    throw new CliError(
      `${flag} ${dir} is not empty (${entries.length} entries, e.g. ${entries.slice(0, 3).join(', ')}): choose an empty or new folder, or pass --force to ${opts.forceHint ?? 'replace it once the run succeeds'}`,
    );
  }
}
