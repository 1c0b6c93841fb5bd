import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from './run-script';

const probe = (...args: string[]) => runScript('probe-transfer.ts', ...args);

describe('npm run probe:transfer (CLI)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ks-probe-cli-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('prints --help; refuses missing flags and values the probe does not take, without a stack', async () => {
    const h = await probe('--help');
    expect(h.code).toBe(0);
    for (const flag of ['--probe', '--nets', '--data-dir', '--seed', '--target', '--values']) {
      expect(h.out).toContain(flag);
    }
    const missing = await probe('--probe', 'blur');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--nets: required/);
    const bad = await probe(
      ...['--probe', 'relabel', '--nets', tmp, '--data-dir', tmp, '--seed', '1'],
      ...['--target', 'net-b', '--values', 'none,0.5,2', '--out', join(tmp, 'out')],
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/none, 2: --probe relabel takes mixing weights in \[0, 1\]/);
    expect(bad.err).not.toMatch(/ at .*\.ts:\d+/);
  });

  it('refuses a non-empty --out it did not write, and a folder without the target network', async () => {
    const full = join(tmp, 'full');
    await rm(full, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(full));
    await writeFile(join(full, 'notes.txt'), 'keep me');
    const args = ['--probe', 'image-stats', '--nets', tmp, '--seed', '1', '--target', 'net-b'];
    const refused = await probe(...args, '--data-dir', tmp, '--values', 'none', '--out', full);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--out/);
    const noNets = await probe(
      ...args,
      ...['--data-dir', tmp, '--values', 'none', '--out', join(tmp, 'o')],
    );
    expect(noNets.code).toBe(1);
    expect(noNets.err).toMatch(/--target net-b is not one of the networks in .*none/);
    expect(noNets.err).not.toMatch(/ at .*\.ts:\d+/);
  });
});
