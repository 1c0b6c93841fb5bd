import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/node/repo-root';

const run = promisify(execFile);
const DEPCRUISE = join(REPO_ROOT, 'node_modules', '.bin', 'depcruise');
const CONFIG = join(REPO_ROOT, '.dependency-cruiser.cjs');

/**
 * The repo's layering rules run on a fixture tree (its own src/ and scripts/), as
 * `npm run lint:deps` runs them on the repo: its exit code and the violations it prints.
 */
async function cruise(fixture: string): Promise<{ code: number; violations: string[] }> {
  const cwd = join(REPO_ROOT, 'test', 'layering', 'fixtures', fixture);
  const args = ['src', 'scripts', '--config', CONFIG];
  const { code, stdout } = await run(DEPCRUISE, args, { cwd, encoding: 'utf8' }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
  // `error rule: from → to`, or `error rule: module` for a rule on modules (reachability).
  const violations = [...stdout.matchAll(/^\s*error (\S+): (\S+)(?: → (\S+))?$/gm)].map(
    ([, rule, from, to]) => `${rule}: ${from}${to ? ` -> ${to}` : ''}`,
  );
  return { code, violations: violations.sort() };
}

describe('layering (.dependency-cruiser.cjs, npm run lint:deps)', () => {
  it('passes a tree whose arrows point down', async () => {
    expect(await cruise('good')).toEqual({ code: 0, violations: [] });
  }, 60_000);

  it('fails on every kind of back-arrow, naming the rule and the import', async () => {
    const r = await cruise('bad');
    expect(r.violations).toEqual([
      'core-imports-only-below: src/core/rng.ts -> src/train/loop.ts',
      'data-imports-only-below: src/data/idx.ts -> scripts/train.ts',
      'no-script-imports-a-script: scripts/serve.ts -> scripts/train.ts',
      'node-imports-only-below: src/node/view.ts -> src/train/loop.ts',
      'not-to-unresolvable: src/client/run.ts -> ./missing',
      'runtime-neutral-core-and-worker: src/core/rng.ts -> fs',
      // The fixture resolves packages from the repo's node_modules, four folders up.
      'runtime-neutral-packages: src/worker/routes/health.ts -> ../../../../node_modules/cli-progress/cli-progress.js',
      'worker-holds-only-what-ships: src/worker/bundle.ts',
      'worker-host-imports-only-below: src/worker-host/node-entry.ts -> src/train/loop.ts',
      'worker-imports-only-below: src/worker/app.ts -> src/worker-host/node-entry.ts',
    ]);
    expect(r.code).toBe(r.violations.length);
  }, 60_000);
});
