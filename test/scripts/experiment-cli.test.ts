import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const experiment = (...args: string[]) =>
  run('npx', ['tsx', 'scripts/experiment.ts', ...args], { encoding: 'utf8' }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      out: e.stdout,
      err: e.stderr,
    }),
  );

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
