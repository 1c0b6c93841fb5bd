import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExperimentConfigSchema } from '../../src/experiment/config';
import { REPO_ROOT } from '../../src/node/repo-root';

// Every config a command in docs/RESULTS.md runs with --config-file: a config that no longer
// parses would make those commands fail for anyone re-checking a reported figure.
const dir = join(REPO_ROOT, 'scripts', 'configs');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('scripts/configs', () => {
  it('holds the committed experiment configs', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files)('%s is a valid experiment config named after its file', (file) => {
    const parsed = ExperimentConfigSchema.safeParse(
      JSON.parse(readFileSync(join(dir, file), 'utf8')),
    );
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    if (parsed.success) expect(parsed.data.name).toBe(basename(file, '.json'));
  });
});
