import { describe, expect, it } from 'vitest';
import { runScript } from './run-script';

const train = (...args: string[]) => runScript('train.ts', ...args);

describe('npm run train (CLI)', () => {
  it('prints --help with every flag and exits 0', async () => {
    const r = await train('--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--partition',
      '--architecture',
      '--loss',
      '--epochs',
      '--seed',
      '--data-dir',
      '--layers',
      '--validation-fraction',
    ]) {
      expect(r.out).toContain(flag);
    }
    expect(r.out).toMatch(/--validation-fraction F[\s\S]*calibration\.json/);
  });

  it('rejects bad flags with a message naming the flag, without a stack trace', async () => {
    const r = await train(
      ...['--loss', 'pixels', '--epochs=-1', '--layers', 'huge', '--validation-fraction', '0.6'],
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--loss: /);
    expect(r.err).toMatch(/--validation-fraction: /);
    expect(r.err).toMatch(/--layers: .*"default"\|"edge"/);
    expect(r.err).toMatch(/--epochs: /);
    expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
    const unknown = await train('--epoch', '3');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/epoch/);
  });

  it('rejects a bad partition and a missing data folder with clear errors', async () => {
    const p = await train('--partition', '0,1/1,2', '--epochs', '0');
    expect(p.err).toMatch(/class 1 is in network 1 and network 2/);
    const d = await train('--data-dir', '/nonexistent', '--epochs', '0');
    expect(d.err).toMatch(/\/nonexistent: none of train-images-idx3-ubyte/);
    expect(d.code).toBe(1);
  });
});

describe('npm run train: output folders', () => {
  it('refuses a non-empty network folder under --out without --force, before training', async () => {
    const { mkdtemp, mkdir, readFile, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const tmp = await mkdtemp(join(tmpdir(), 'ks-train-cli-'));
    try {
      await mkdir(join(tmp, 'net-a'));
      await writeFile(join(tmp, 'net-a', 'keep.txt'), 'mine');
      const r = await train('--out', tmp, '--epochs', '0', '--max-train-samples', '64');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/--out .*net-a is not empty .*--force/);
      expect(await readFile(join(tmp, 'net-a', 'keep.txt'), 'utf8')).toBe('mine');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
