import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from '../node/repo-root';
import { prepareWorkerBundle, type WorkerBundle } from './worker-bundle';
import { quietWrangler } from './workerd-local';

/** The Workers free plan's limit on a Worker's compressed size. */
export const FREE_PLAN_LIMIT_BYTES = 3 * 1024 * 1024;

export interface DeployReport {
  networkId: string;
  workerName: string;
  configPath: string;
  dryRun: boolean;
  files: { path: string; bytes: number; gzipBytes: number }[];
  totalBytes: number;
  totalGzipBytes: number;
  limitBytes: number;
  withinLimit: boolean;
}

function runWrangler(args: string[]): Promise<void> {
  quietWrangler();
  const bin = join(REPO_ROOT, 'node_modules', '.bin', 'wrangler');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`wrangler ${args[0]} exited with ${code}`)),
    );
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (!e.name.endsWith('.map') && e.name !== 'README.md') out.push(p);
  }
  return out.sort();
}

/**
 * Build (dry run) or deploy one network's Worker: its generated environment, then
 * `wrangler deploy --dry-run --outdir`, measuring every module gzipped against the free
 * plan's 3 MB. A real deploy builds the same bundle first and refuses when it is too big.
 */
export async function deployNetwork(
  modelDir: string,
  opts: { dryRun: boolean },
): Promise<DeployReport> {
  const bundle: WorkerBundle = await prepareWorkerBundle(modelDir);
  const outdir = join(bundle.dir, 'dist');
  await rm(outdir, { recursive: true, force: true });
  await runWrangler(['deploy', '-c', bundle.configPath, '--dry-run', '--outdir', outdir]);
  const files = [];
  for (const path of await listFiles(outdir)) {
    const bytes = await readFile(path);
    files.push({
      path: relative(outdir, path),
      bytes: (await stat(path)).size,
      gzipBytes: gzipSync(bytes, { level: 9 }).length,
    });
  }
  const totalBytes = files.reduce((s, f) => s + f.bytes, 0);
  const totalGzipBytes = files.reduce((s, f) => s + f.gzipBytes, 0);
  const report: DeployReport = {
    networkId: bundle.networkId,
    workerName: bundle.workerName,
    configPath: relative(REPO_ROOT, bundle.configPath),
    dryRun: opts.dryRun,
    files,
    totalBytes,
    totalGzipBytes,
    limitBytes: FREE_PLAN_LIMIT_BYTES,
    withinLimit: totalGzipBytes <= FREE_PLAN_LIMIT_BYTES,
  };
  if (!opts.dryRun) {
    if (!report.withinLimit) {
      throw new Error(
        `${bundle.workerName}: ${totalGzipBytes} bytes gzipped exceeds the free plan's ${FREE_PLAN_LIMIT_BYTES}`,
      );
    }
    await runWrangler(['deploy', '-c', bundle.configPath]);
  }
  return report;
}
