import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from './run-script';

describe('npm start: the output folder (CLI)', () => {
  it('refuses a --out holding files it did not write, before any work, and leaves them', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ks-start-cli-'));
    try {
      await writeFile(join(out, 'thesis.tex'), 'mine');
      const r = await runScript('start.ts', '--out', out);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/--out .* is not empty \(1 entries, e\.g\. thesis\.tex\).*--force/);
      expect(await readdir(out)).toEqual(['thesis.tex']);
      expect(await readFile(join(out, 'thesis.tex'), 'utf8')).toBe('mine');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
