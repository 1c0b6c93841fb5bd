import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from './run-script';

const finetune = (...args: string[]) => runScript('finetune.ts', ...args);
// Nothing listens here: a run that got past the output check would fail on it instead.
const NOWHERE = 'http://127.0.0.1:9';

/** sha256 of every file under `dir`, by relative path. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out[p.slice(dir.length)] = createHash('sha256')
      .update(await readFile(p))
      .digest('hex');
  }
  return out;
}

describe('npm run finetune: the output folder (CLI)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ks-finetune-cli-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('refuses a non-empty --out without --force and leaves it byte-identical', async () => {
    const out = join(tmp, 'busy');
    await mkdir(join(out, 'sub'), { recursive: true });
    await writeFile(join(out, 'notes.txt'), 'my notes');
    await writeFile(join(out, 'sub', 'data.bin'), new Uint8Array([1, 2, 3]));
    const before = await snapshot(out);
    const r = await finetune('--target', 'models/net-b', '--endpoint', NOWHERE, '--out', out);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--out .*busy is not empty .*--force/);
    expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
    expect(await snapshot(out)).toEqual(before);
  });

  it('refuses --out equal to or inside --target, even with --force; the target stays intact', async () => {
    const before = await snapshot('models/net-b');
    const same = await finetune(
      '--target',
      'models/net-b',
      '--endpoint',
      NOWHERE,
      '--out',
      'models/net-b/',
      '--force',
    );
    expect(same.code).not.toBe(0);
    expect(same.err).toMatch(/--out models\/net-b\/ is the same folder as --target models\/net-b/);
    const inside = await finetune(
      '--target',
      'models/net-b',
      '--endpoint',
      NOWHERE,
      '--out',
      'models/net-b/merged',
    );
    expect(inside.code).not.toBe(0);
    expect(inside.err).toMatch(/is inside --target/);
    const parent = await finetune(
      '--target',
      'models/net-b',
      '--endpoint',
      NOWHERE,
      '--out',
      'models',
      '--force',
    );
    expect(parent.code).not.toBe(0);
    expect(parent.err).toMatch(/contains --target/);
    expect(await snapshot('models/net-b')).toEqual(before);
  });

  it('--force replaces a non-empty --out only after a successful run', async () => {
    const { initWasmBackend } = await import('../../src/node/wasm-backend');
    const { writeTinyNetwork } = await import('../fixtures/tiny-network');
    const { startNodeEndpoint } = await import('../../src/worker-host/node-entry');
    await initWasmBackend();
    const { dir } = await writeTinyNetwork({ dir: join(tmp, 'net-a') });
    const target = (
      await writeTinyNetwork({ dir: join(tmp, 'net-t'), classes: [7], networkId: 'net-t' })
    ).dir;
    const out = join(tmp, 'replace-me');
    await mkdir(out);
    await writeFile(join(out, 'old.txt'), 'old');
    const before = await snapshot(out);
    const args = ['--target', target, '--out', out, '--force', '--no-eval', '--threshold', '0'];
    const small = ['--samples-per-class', '4', '--epochs', '1', '--retries', '0'];
    // A failing run (nothing listens) leaves the folder as it was.
    const failed = await finetune(...args, ...small, '--endpoint', NOWHERE);
    expect(failed.code).not.toBe(0);
    expect(await snapshot(out)).toEqual(before);
    const ep = await startNodeEndpoint({ modelDir: dir });
    try {
      const ok = await finetune(...args, ...small, '--endpoint', ep.url);
      expect(ok.err).not.toMatch(/error:/);
      expect(ok.code).toBe(0);
    } finally {
      await ep.stop();
    }
    const files = Object.keys(await snapshot(out)).sort();
    expect(files).toContain('/manifest.json');
    expect(files).not.toContain('/old.txt');
    expect((await readdir(tmp)).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual(
      [],
    );
  }, 120_000);
});
