import { describe, expect, it } from 'vitest';
import { runScript } from './run-script';

/** Every command answers --help with its usage on stdout and exit code 0, running nothing. */
const commands = [
  ['bench-train.ts', 'npm run bench:train'],
  ['bench-kernels.ts', 'npm run bench:kernels'],
  ['sweep-finetune.ts', 'npm run sweep:finetune'],
  ['start.ts', 'npm start'],
  ['finetune.ts', 'npm run finetune'],
  ['audit.ts', 'npm run audit'],
  ['prepare-fashion-mnist.ts', 'npm run data:fashion-mnist'],
  ['export-image-folder.ts', 'npm run data:image-folder'],
] as const;

describe('--help', () => {
  it.each(commands)(
    '%s prints its usage and exits 0',
    async (script, usage) => {
      const r = await runScript(script, '--help');
      expect(r.code, r.err).toBe(0);
      expect(r.out.startsWith(usage)).toBe(true);
      expect(r.out).toMatch(/^ {2}--help {2,}this text$/m);
      expect(r.err).toBe('');
    },
    60_000,
  );
});

describe('flag errors name the flag', () => {
  it('bench:train rejects a bad value and an unknown flag without a stack trace', async () => {
    const bad = await runScript('bench-train.ts', '--steps', '0', '--nets', 'ref,x');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--steps: Too small/);
    expect(bad.err).toMatch(/--nets \(item 2\): Invalid option/);
    const unknown = await runScript('bench-kernels.ts', '--wasm', '--fast');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/Unknown option '--fast'/);
    for (const r of [bad, unknown]) expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
  }, 60_000);
});
