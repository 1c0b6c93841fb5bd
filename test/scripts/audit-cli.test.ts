import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from './run-script';

const audit = (...args: string[]) => runScript('audit.ts', ...args);

describe('npm run audit (CLI)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ks-audit-cli-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('prints --help and exits 0; refuses bad flags without a stack', async () => {
    const h = await audit('--help');
    expect(h.code).toBe(0);
    for (const flag of ['--network', '--count', '--generator', '--max-share', '--out']) {
      expect(h.out).toContain(flag);
    }
    const bad = await audit('--network', 'net-a', '--count', '0', '--max-share', '2');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--count: /);
    expect(bad.err).toMatch(/--max-share: /);
    expect(bad.err).not.toMatch(/ at .*\.ts:\d+/);
  });

  it('audits a demo network: both shares per generator, the PNG and audit.json; refuses a foreign --out', async () => {
    const out = join(tmp, 'net-a');
    const args = ['--network', 'net-a', '--count', '30', '--holdout', '100', '--out', out];
    const r = await audit(...args);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/held-out \(100 test images\) nearest-training distance: 1st pct \d/);
    expect(r.out).toMatch(/^vae +30 +\d+\.\d % +\d+\.\d % /m);
    expect(r.out).toMatch(/^class-prior +30 +\d+\.\d % +\d+\.\d % /m);
    expect(r.out).toMatch(/^class-mixture +30 +\d+\.\d % +\d+\.\d % /m);
    expect((await readdir(out)).sort()).toEqual(['audit.json', 'closest-pairs.png']);
    const png = await readFile(join(out, 'closest-pairs.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const json = JSON.parse(await readFile(join(out, 'audit.json'), 'utf8'));
    expect(json.generators.map((g: { generator: string }) => g.generator)).toEqual([
      'vae',
      'class-prior',
      'class-mixture',
    ]);
    // A folder holding anything but an earlier audit's files is not replaced.
    const foreign = join(tmp, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'mine.txt'), 'keep');
    const refused = await audit('--network', 'net-a', '--count', '5', '--out', foreign);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--out .*foreign is not empty/);
    expect(await readdir(foreign)).toEqual(['mine.txt']);
  }, 180_000);
});
