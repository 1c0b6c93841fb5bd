import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimHeld, claimUnit } from '../../src/node/unit-claim';

describe('unit claims', () => {
  it('one holder at a time; released claims can be taken again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ks-claim-'));
    const unit = join(dir, 'nets', 'net-a');
    const first = await claimUnit(unit);
    expect(first).toBeDefined();
    expect(await claimHeld(unit)).toBe(true);
    expect(await claimUnit(unit)).toBeUndefined();
    await first!.release();
    expect(await claimHeld(unit)).toBe(false);
    const second = await claimUnit(unit);
    expect(second).toBeDefined();
    await second!.release();
    expect(await readdir(join(dir, 'nets'))).toEqual([]);
  });

  it("takes over a claim whose process has exited; respects another host's", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ks-claim-'));
    const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(exited.stdout.toString());
    const { hostname } = await import('node:os');
    const stale = join(dir, 'stale');
    await mkdir(`${stale}.claim`);
    await writeFile(
      join(`${stale}.claim`, 'owner.json'),
      JSON.stringify({ host: hostname(), pid: deadPid, since: '' }),
    );
    expect(await claimHeld(stale)).toBe(false);
    const taken = await claimUnit(stale);
    expect(taken).toBeDefined();
    await taken!.release();

    const remote = join(dir, 'remote');
    await mkdir(`${remote}.claim`);
    await writeFile(
      join(`${remote}.claim`, 'owner.json'),
      JSON.stringify({ host: 'another-machine', pid: deadPid, since: '' }),
    );
    expect(await claimUnit(remote)).toBeUndefined();
  });
});
