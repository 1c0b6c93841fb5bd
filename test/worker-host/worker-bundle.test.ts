import '@tensorflow/tfjs-backend-cpu';
import {
  copyFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pathExists } from '../../src/node/fs-atomic';
import { startNodeEndpoint } from '../../src/worker-host/node-entry';
import { prepareWorkerBundle } from '../../src/worker-host/worker-bundle';
import { writeTinyNetwork } from '../fixtures/tiny-network';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The Worker bundler copies every file the manifest names: none may come from or go outside. */
describe('Worker bundler containment', () => {
  it('refuses a manifest key whose ".." climbs out of the bundle, and writes nothing outside', async () => {
    const { dir } = await writeTinyNetwork();
    const out = await mkdtemp(join(tmpdir(), 'ks-bundle-'));
    // Read side: x/y/../../../<name>/classifier/weights.bin is the folder's own weights file;
    // write side: <out>/model/x/y/../../.. is <out>'s parent.
    const key = `x/y/../../../${basename(dir)}/classifier/weights.bin`;
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    m.files[key] = m.files['classifier/weights.bin'];
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    await expect(prepareWorkerBundle(dir, { outDir: join(out, 'bundle') })).rejects.toThrow(
      /manifest\.json\.files names the file "x\/y\/\.\.\/.*", which is not a plain relative path/,
    );
    expect(await pathExists(join(out, basename(dir)))).toBe(false);
    await rm(out, { recursive: true, force: true });
  });

  it('refuses a weights.bin symlinked outside the model folder, naming it', async () => {
    const { dir } = await writeTinyNetwork();
    const weights = join(dir, 'classifier', 'weights.bin');
    const outside = join(dirname(dir), 'stolen.bin');
    await copyFile(weights, outside);
    await rm(weights);
    await symlink(outside, weights);
    await expect(prepareWorkerBundle(dir, { outDir: join(dirname(dir), 'b') })).rejects.toThrow(
      /classifier\/weights\.bin: cannot be read \(.*symlink that leads outside/,
    );
  });

  it('the Node entry refuses to start on a symlinked weights.bin leading out, naming it', async () => {
    const { dir } = await writeTinyNetwork();
    const weights = join(dir, 'generator', 'weights.bin');
    const outside = join(dirname(dir), 'elsewhere.bin');
    await copyFile(weights, outside);
    await rm(weights);
    await symlink(outside, weights);
    await expect(startNodeEndpoint({ modelDir: dir })).rejects.toThrow(
      /generator\/weights\.bin: cannot be read \(.*symlink that leads outside/,
    );
  });
});

/**
 * Endpoints of one network started at once all prepare its bundle folder: one version's copies
 * are written once (a temp folder renamed in) and never rewritten under a running endpoint.
 */
describe('Worker bundle folder under concurrent preparation', () => {
  /** A tiny network and a bundle folder to prepare it into (`out`, inside a temp `parent`). */
  async function networkAndBundleDir() {
    const { dir } = await writeTinyNetwork();
    const parent = await mkdtemp(join(tmpdir(), 'ks-bundle-'));
    return { dir, parent, out: join(parent, 'bundle') };
  }

  it('four preparations of one model folder at once all succeed with the same intact copies', async () => {
    const { dir, parent, out } = await networkAndBundleDir();
    const bundles = await Promise.all(
      [1, 2, 3, 4].map(() => prepareWorkerBundle(dir, { outDir: out })),
    );
    const modelDirs = new Set(bundles.map((b) => b.modelFilesDir));
    expect(modelDirs.size).toBe(1);
    const [bundle] = bundles;
    for (const path of ['manifest.json', 'classifier/weights.bin', 'generator/weights.bin']) {
      expect(await readFile(join(bundle!.modelFilesDir, `${path}.bin`))).toEqual(
        await readFile(join(dir, path)),
      );
    }
    // no temp folder is left behind, and bundle.js imports the one version's copies
    expect((await readdir(out)).sort()).toEqual(
      [basename(bundle!.modelFilesDir), 'bundle.js', 'wrangler.json'].sort(),
    );
    const js = await readFile(join(out, 'bundle.js'), 'utf8');
    expect(js).toContain(`./${basename(bundle!.modelFilesDir)}/classifier/weights.bin.bin`);
    await rm(parent, { recursive: true, force: true });
  });

  it('does not rewrite a version already in place, and puts a retrained network beside it', async () => {
    const { dir, parent, out } = await networkAndBundleDir();
    const first = await prepareWorkerBundle(dir, { outDir: out });
    const weights = join(first.modelFilesDir, 'generator/weights.bin.bin');
    const generated = [weights, join(out, 'bundle.js'), join(out, 'wrangler.json')];
    const before = await Promise.all(generated.map((f) => stat(f)));
    const again = await prepareWorkerBundle(dir, { outDir: out });
    expect(again.modelFilesDir).toBe(first.modelFilesDir);
    // neither the copies nor bundle.js nor wrangler.json (which a running endpoint's wrangler
    // watches) are replaced by an identical file
    const after = await Promise.all(generated.map((f) => stat(f)));
    expect(after.map((a) => [a.ino, a.mtimeMs])).toEqual(before.map((b) => [b.ino, b.mtimeMs]));
    // the same folder, re-exported with other classes: a new version, the old one kept
    await rm(dir, { recursive: true });
    await writeTinyNetwork({ dir, classes: [0, 2] });
    const retrained = await prepareWorkerBundle(dir, { outDir: out });
    expect(retrained.modelFilesDir).not.toBe(first.modelFilesDir);
    expect(await pathExists(weights)).toBe(true);
    const js = await readFile(join(out, 'bundle.js'), 'utf8');
    expect(js).toContain(basename(retrained.modelFilesDir));
    expect(js).not.toContain(basename(first.modelFilesDir));
    await rm(parent, { recursive: true, force: true });
  });

  it('replaces a bundled copy that was edited by hand', async () => {
    const { dir, parent, out } = await networkAndBundleDir();
    const bundle = await prepareWorkerBundle(dir, { outDir: out });
    const copy = join(bundle.modelFilesDir, 'classifier/weights.bin.bin');
    const bytes = await readFile(copy);
    bytes[3] = (bytes[3]! + 1) % 256;
    await writeFile(copy, bytes);
    await prepareWorkerBundle(dir, { outDir: out });
    expect(await readFile(copy)).toEqual(await readFile(join(dir, 'classifier/weights.bin')));
    await rm(parent, { recursive: true, force: true });
  });
});
