import '@tensorflow/tfjs-backend-cpu';
import { copyFile, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/core/manifest';
import { checkFolderPath, loadNetwork, ModelFolderError } from '../../src/core/model-folder';
import { folderReader } from '../../src/node/fs-atomic';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/** Attacks on the files a model folder names: each must be refused with the file named. */
beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function patchJson(path: string, fn: (j: Record<string, unknown>) => void) {
  const j = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  fn(j);
  await writeFile(path, JSON.stringify(j));
}

describe('model folder containment', () => {
  it('checkFolderPath accepts plain relative paths only', () => {
    for (const ok of ['manifest.json', 'classifier/weights.bin', 'a-b_c/d.e']) {
      expect(() => checkFolderPath(ok, 'x')).not.toThrow();
    }
    for (const bad of [
      '',
      '/etc/passwd',
      '../x',
      'a/../../x',
      'a/./b',
      'a//b',
      'a/',
      'C:/x',
      'a\\..\\b',
      'a\u0000b',
      'a\nb',
    ]) {
      expect(() => checkFolderPath(bad, 'manifest.json.files')).toThrow(ModelFolderError);
    }
  });

  it('refuses a manifest that lists a file outside the folder, naming it', async () => {
    const { dir } = await writeTinyNetwork();
    const outside = join(dirname(dir), 'outside.bin');
    await writeFile(outside, 'secret');
    const digest = await sha256Hex(new Uint8Array(await readFile(outside)));
    await patchJson(join(dir, 'manifest.json'), (m) => {
      (m.files as Record<string, string>)['../outside.bin'] = digest;
    });
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(
      /manifest\.json\.files names the file "\.\.\/outside\.bin", which is not a plain relative path/,
    );
  });

  it('refuses a model.json whose weights path is absolute or climbs out, naming both', async () => {
    const { dir } = await writeTinyNetwork();
    const mj = join(dir, 'classifier', 'model.json');
    await patchJson(mj, (j) => {
      (j.weightsManifest as { paths: string[] }[])[0]!.paths = ['/etc/passwd'];
    });
    const digest = await sha256Hex(new Uint8Array(await readFile(mj)));
    await patchJson(join(dir, 'manifest.json'), (m) => {
      (m.files as Record<string, string>)['classifier/model.json'] = digest;
    });
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(
      /classifier\/model\.json names the file "\/etc\/passwd"/,
    );
  });

  it('refuses a weights.bin symlinked to a file outside the folder (same bytes), naming it', async () => {
    const { dir } = await writeTinyNetwork();
    const weights = join(dir, 'generator', 'weights.bin');
    const outside = join(dirname(dir), `${basename(dir)}-weights-copy.bin`);
    await copyFile(weights, outside);
    await rm(weights);
    await symlink(outside, weights);
    await expect(loadNetwork(folderReader(dir))).rejects.toThrow(
      /generator\/weights\.bin: cannot be read \(generator\/weights\.bin is a symlink that leads outside the model folder/,
    );
  });

  it('still follows a symlink that stays inside the folder', async () => {
    const { dir } = await writeTinyNetwork();
    const weights = join(dir, 'generator', 'weights.bin');
    await copyFile(weights, join(dir, 'generator', 'real.bin'));
    await rm(weights);
    await symlink('real.bin', weights);
    const net = await loadNetwork(folderReader(dir));
    net.classifier.dispose();
    net.decoder.dispose();
  });
});
