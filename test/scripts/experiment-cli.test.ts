import { describe, expect, it } from 'vitest';
import { runScript } from './run-script';

const experiment = (...args: string[]) => runScript('experiment.ts', ...args);

describe('npm run experiment (CLI)', () => {
  it('prints --help with every flag and exits 0', async () => {
    const r = await experiment('--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--config',
      '--repeats',
      '--rows',
      '--runs-dir',
      '--native-threads',
      '--networks-only',
      '--cached-only',
      '--side-claims',
    ]) {
      expect(r.out).toContain(flag);
    }
  });

  it('rejects bad and conflicting flags with a message, without a stack trace', async () => {
    const r = await experiment('--config', 'huge', '--rows', 'ensemble,bogus');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--config: /);
    expect(r.err).toMatch(/--rows \(item 2\): /);
    expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
    const both = await experiment('--networks-only', '--cached-only');
    expect(both.code).toBe(1);
    expect(both.err).toMatch(/pass one of them/);
  });
});
