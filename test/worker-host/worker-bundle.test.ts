import '@tensorflow/tfjs-backend-cpu';
import { copyFile, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
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
