import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `scripts/<name>` with tsx; its exit code, stdout and stderr, whether it failed or not. */
export function runScript(
  name: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  return run('npx', ['tsx', `scripts/${name}`, ...args], { encoding: 'utf8' }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      out: e.stdout,
      err: e.stderr,
    }),
  );
}
