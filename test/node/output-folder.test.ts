import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomicIfChanged, writeFolderAtomic } from '../../src/node/fs-atomic';
import { checkOutputFolder } from '../../src/node/output-folder';

describe('checkOutputFolder (the one output-folder rule)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ks-out-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('accepts an absent or empty folder, refuses a non-empty one unless force', async () => {
    await expect(checkOutputFolder(join(tmp, 'new'))).resolves.toBeUndefined();
    await mkdir(join(tmp, 'empty'));
    await expect(checkOutputFolder(join(tmp, 'empty'))).resolves.toBeUndefined();
    await mkdir(join(tmp, 'full'));
    await writeFile(join(tmp, 'full', 'x'), 'x');
    await expect(checkOutputFolder(join(tmp, 'full'))).rejects.toThrow(/not empty .*--force/);
    await expect(checkOutputFolder(join(tmp, 'full'), { force: true })).resolves.toBeUndefined();
    // A folder holding only what the command writes is its own earlier output.
    await writeFile(join(tmp, 'full', 'y'), 'y');
    await expect(
      checkOutputFolder(join(tmp, 'full'), { ownFiles: ['x', 'y'] }),
    ).resolves.toBeUndefined();
    await expect(checkOutputFolder(join(tmp, 'full'), { ownFiles: ['x'] })).rejects.toThrow(
      /not empty/,
    );
    await writeFile(join(tmp, 'file'), 'x');
    await expect(checkOutputFolder(join(tmp, 'file'), { force: true })).rejects.toThrow(
      /not a folder/,
    );
  });

  it('refuses the protected folder, a folder inside it or holding it, also through a symlink', async () => {
    const target = join(tmp, 'target');
    await mkdir(target);
    const protect = [['--target', target]] as const;
    for (const out of [target, `${target}/`, join(target, 'a', 'b'), tmp]) {
      await expect(checkOutputFolder(out, { force: true, protect })).rejects.toThrow(/--target/);
    }
    await symlink(target, join(tmp, 'alias'));
    await expect(
      checkOutputFolder(join(tmp, 'alias', 'merged'), { force: true, protect }),
    ).rejects.toThrow(/inside --target/);
  });
});

describe('writeFolderAtomic', () => {
  it('replaces a folder only after every file was written; a failure leaves the old one', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'ks-atomic-'));
    try {
      const dir = join(tmp, 'out');
      await writeFolderAtomic(dir, { 'a.txt': 'old' });
      // A file and a folder of the same name cannot both be written: the write fails midway.
      await expect(writeFolderAtomic(dir, { x: 'new', 'x/y': 'new' })).rejects.toThrow();
      expect(await readdir(dir)).toEqual(['a.txt']);
      expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('old');
      expect((await readdir(tmp)).sort()).toEqual(['out']);
      await writeFolderAtomic(dir, { 'b.txt': 'new' });
      expect(await readdir(dir)).toEqual(['b.txt']);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
  it('keepExisting: a folder it calls good stays untouched (same inode), one it refuses is replaced', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'ks-atomic-'));
    try {
      const dir = join(tmp, 'out');
      await writeFolderAtomic(dir, { 'a.txt': 'first' }, { keepExisting: async () => true });
      const before = await stat(dir);
      await writeFolderAtomic(dir, { 'a.txt': 'second' }, { keepExisting: async () => true });
      expect((await stat(dir)).ino).toBe(before.ino);
      expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('first');
      await writeFolderAtomic(dir, { 'a.txt': 'third' }, { keepExisting: async () => false });
      expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('third');
      expect(await readdir(tmp)).toEqual(['out']); // no temp or old folder left
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('writeFileAtomicIfChanged', () => {
  it('leaves a file holding the same bytes untouched and replaces one that differs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ks-if-changed-'));
    const path = join(dir, 'sub', 'config.json');
    await writeFileAtomicIfChanged(path, '{"a":1}\n');
    const first = await stat(path);
    await writeFileAtomicIfChanged(path, '{"a":1}\n');
    const same = await stat(path);
    expect([same.ino, same.mtimeMs]).toEqual([first.ino, first.mtimeMs]);
    await writeFileAtomicIfChanged(path, '{"a":2}\n'); // same size, other bytes
    expect(await readFile(path, 'utf8')).toBe('{"a":2}\n');
    expect((await stat(path)).ino).not.toBe(first.ino);
    await writeFileAtomicIfChanged(path, new Uint8Array([1, 2, 3]));
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3]);
    expect((await readdir(join(dir, 'sub'))).sort()).toEqual(['config.json']);
    await rm(dir, { recursive: true, force: true });
  });
});
