import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A claim on one cached unit of work (a network being trained, a row being computed), so
 * several processes — or machines sharing the folder — can work through one cache without
 * doing the same unit twice. The claim is a folder `<unit>.claim` (mkdir is atomic: it
 * fails when the folder exists) holding its owner's host and pid. A claim whose owner process
 * on this host has gone (killed, session ended) is stale and taken over.
 *
 * A claim only saves duplicate work: every unit is written atomically, so two processes that
 * race past a claim (a stale claim taken over by both at once) still leave one whole unit.
 */
export interface UnitClaim {
  release(): Promise<void>;
}

interface Owner {
  host: string;
  pid: number;
  since: string;
}

const CLAIM_SUFFIX = '.claim';
/** A claim folder without a readable owner is taken to be mid-creation for this long. */
const OWNERLESS_GRACE_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(dir: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

/** Whether a live process (here or, as far as we can tell, elsewhere) holds `unit`'s claim. */
export async function claimHeld(unit: string): Promise<boolean> {
  const dir = `${unit}${CLAIM_SUFFIX}`;
  let created: number;
  try {
    created = (await stat(dir)).mtimeMs;
  } catch {
    return false;
  }
  const owner = await readOwner(dir);
  if (!owner) return Date.now() - created < OWNERLESS_GRACE_MS;
  // another machine's process cannot be checked from here: its claim holds
  if (owner.host !== hostname()) return true;
  return owner.pid === process.pid || alive(owner.pid);
}

/**
 * Claim `unit` (a path: the unit's folder or file) for this process. Returns undefined when a
 * live process holds it; takes over a stale claim.
 */
export async function claimUnit(unit: string): Promise<UnitClaim | undefined> {
  const dir = `${unit}${CLAIM_SUFFIX}`;
  await mkdir(dirname(dir), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await claimHeld(unit)) return undefined;
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    const owner: Owner = { host: hostname(), pid: process.pid, since: new Date().toISOString() };
    await writeFile(join(dir, 'owner.json'), JSON.stringify(owner));
    return { release: () => rm(dir, { recursive: true, force: true }) };
  }
  return undefined;
}
