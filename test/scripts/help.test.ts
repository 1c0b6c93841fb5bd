import { describe, expect, it } from 'vitest';
import { runScript } from './run-script';

/** Every command answers --help with its usage on stdout and exit code 0, running nothing. */
const commands = [
  ['bench-train.ts', 'npm run bench:train'],
  ['bench-kernels.ts', 'npm run bench:kernels'],
  ['bench-layers.ts', 'npm run bench:layers'],
  ['sweep-finetune.ts', 'npm run sweep:finetune'],
  ['start.ts', 'npm start'],
  ['train.ts', 'npm run train'],
  ['deploy.ts', 'npm run deploy'],
  ['finetune.ts', 'npm run finetune'],
  ['audit.ts', 'npm run audit'],
  ['calibrate.ts', 'npm run calibrate'],
  ['prepare-fashion-mnist.ts', 'npm run data:fashion-mnist'],
  ['export-image-folder.ts', 'npm run data:image-folder'],
  ['experiment.ts', 'npm run experiment'],
  ['serve.ts', 'npm run serve'],
  ['bench-edge.ts', 'npm run bench:edge'],
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

  it('deploy: a rule across flags names what to give', async () => {
    const none = await runScript('deploy.ts', '--dry-run');
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/--network: give --network <id>, --all or --model-dir <dir>/);
    const bad = await runScript('deploy.ts', '--network', 'Bad Id');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--network: network id: lowercase letters/);
    for (const r of [none, bad]) expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
  }, 60_000);

  it('finetune: --own-images-loss takes one of its two values, and --help lists them', async () => {
    const bad = await runScript('finetune.ts', '--own-images-loss', 'mine', '--target', '/nowhere');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--own-images-loss: Invalid option.*all-classes.*own-classes/);
    expect(bad.err).not.toMatch(/ at .*\.ts:\d+/);
    const help = await runScript('finetune.ts', '--help');
    expect(help.out).toMatch(/--own-images-loss all-classes\|own-classes/);
  }, 60_000);
});

describe('npm run bench:layers', () => {
  it('counts the FLOPs of each layer size and prints its JSON line last', async () => {
    const r = await runScript('bench-layers.ts', '--rounds', '1');
    expect(r.code, r.err).toBe(0);
    const last = JSON.parse(r.out.trim().split('\n').at(-1)!) as {
      rows: { layers: string; mflopPerCandidate: number; candidatesPerSecond: number }[];
    };
    const mflop = Object.fromEntries(last.rows.map((x) => [x.layers, x.mflopPerCandidate]));
    // By hand, 28x28x1 images, 5 classes, latent 32. Classifier [16, 32, 32, 32]: conv1
    // 784*9*1*16, conv2 196*9*16*32, conv3 196*9*32*32, conv4 49*9*32*32, dense 1568*128 +
    // 128*5; decoder [32, 32, 16]: dense 32*1568, up1 49*9*32*32, up2 196*9*32*32, conv3
    // 784*9*32*16, out 784*9*16*1; all x 2.
    const byHand = (n: number[]) => (2 * n.reduce((a, b) => a + b, 0)) / 1e6;
    expect(mflop.default).toBeCloseTo(
      byHand([
        784 * 9 * 16,
        196 * 9 * 16 * 32,
        196 * 9 * 32 * 32,
        49 * 9 * 32 * 32,
        1568 * 128,
        128 * 5,
        32 * 1568,
        49 * 9 * 32 * 32,
        196 * 9 * 32 * 32,
        784 * 9 * 32 * 16,
        784 * 9 * 16,
      ]),
      6,
    );
    expect(mflop.edge).toBeLessThan(mflop.default! / 2);
    for (const x of last.rows) expect(x.candidatesPerSecond).toBeGreaterThan(0);
  }, 120_000);
});
