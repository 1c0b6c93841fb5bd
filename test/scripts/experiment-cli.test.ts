import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUICK } from '../../src/experiment/config';
import { runScript } from './run-script';

const experiment = (...args: string[]) => runScript('experiment.ts', ...args);
const noStack = (err: string) => expect(err).not.toMatch(/ at .*\.ts:\d+/);

describe('npm run experiment (CLI)', () => {
  it('prints --help with every flag and exits 0', async () => {
    const r = await experiment('--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--config',
      '--config-file',
      '--data-dir',
      '--partition',
      '--networks',
      '--target',
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
    const r = await experiment('--config', 'huge', '--rows', 'ensemble,Bogus!');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--config: /);
    expect(r.err).toMatch(/--rows \(item 2\): /);
    noStack(r.err);
    const both = await experiment('--networks-only', '--cached-only');
    expect(both.code).toBe(1);
    expect(both.err).toMatch(/pass one of them/);
    const split = await experiment('--partition', '0,1/2,3', '--networks', '3');
    expect(split.err).toMatch(/--partition fixes the networks/);
  });

  it('names unknown rows and targets with what the config has', async () => {
    const rows = await experiment('--rows', 'ensemble,best');
    expect(rows.code).toBe(1);
    expect(rows.err).toMatch(/--rows: best not a row of config quick; its rows: ensemble,/);
    const fast = await experiment('--config', 'fast', '--rows', 'nope');
    expect(fast.err).toMatch(/fair-ensemble, best/);
    const target = await experiment('--partition', '0,1,2/3,4/5,6,7,8,9', '--target', 'net-d');
    expect(target.code).toBe(1);
    expect(target.err).toMatch(/--target net-d is not one of the networks net-a, net-b, net-c/);
    noStack(target.err);
  });

  it('validates --config-file by the config schema, naming the file and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ks-cfg-'));
    const notJson = join(dir, 'a.json');
    await writeFile(notJson, '{ nope');
    const a = await experiment('--config-file', notJson);
    expect(a.code).toBe(1);
    expect(a.err).toMatch(/a\.json: not JSON/);
    const typo = join(dir, 'b.json');
    await writeFile(typo, JSON.stringify({ ...QUICK, train: { ...QUICK.train, epoch: 3 } }));
    const b = await experiment('--config-file', typo);
    expect(b.err).toMatch(/b\.json is not a valid experiment config/);
    expect(b.err).toMatch(/train: .*epoch/);
    const wrongCount = join(dir, 'c.json');
    await writeFile(
      wrongCount,
      JSON.stringify({ ...QUICK, partition: [[0, 1], [2]], networks: 3 }),
    );
    const c = await experiment('--config-file', wrongCount);
    expect(c.err).toMatch(/networks: networks must equal the number of groups in partition/);
    const both = await experiment('--config', 'quick', '--config-file', typo);
    expect(both.err).toMatch(/pass one of them/);
    for (const r of [a, b, c]) noStack(r.err);
  });
});
