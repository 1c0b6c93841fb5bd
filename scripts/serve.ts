/**
 * npm run serve -- --network <id>[,<id>...] [--port 8787] [--host 127.0.0.1]
 *                  [--runtime workerd|node] [--token T] [--cors ORIGINS] [--model-dir <dir>]
 * Serves each network on --host (ports port, port+1, ...) until Ctrl-C. workerd runs
 * through wrangler's local dev runtime (no account, no network access); node uses the Node entry.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { NetworkIdSchema } from '../src/core/manifest';
import { CliError, parseCli, runMain } from '../src/node/cli';
import { REPO_ROOT } from '../src/node/repo-root';
import { initWasmBackend } from '../src/node/wasm-backend';
import { tokenProblem } from '../src/worker/auth';
import { type LocalEndpoint, startLocalEndpoint } from '../src/worker/local-endpoint';
import { quietWrangler } from '../src/worker/workerd-local';

const HELP = `npm run serve -- --network <id>[,<id>...] [flags]

Serves each network on --host (ports port, port+1, ...) until Ctrl-C. One log line per
request: request id, method, path, status, milliseconds.

  --network IDS     network folders under models/, comma-separated
  --model-dir DIR   serve this model folder instead
  --port N          first port (0 = any free port)             default: 8787
  --host H          address to listen on (0.0.0.0: every interface; then set a token)
                                                               default: 127.0.0.1
  --cors ORIGINS    allow browsers on these origins (comma-separated, or *)
                                                               default: off
  --runtime R       workerd (wrangler's local runtime) | node  default: workerd
  --token T         require "Authorization: Bearer T" (default: $AUTH_TOKEN, else open)`;

const Flags = z
  .object({
    network: z
      .string()
      .transform((s) => s.split(',').filter(Boolean))
      .pipe(z.array(NetworkIdSchema).min(1))
      .optional(),
    modelDir: z.string().optional(),
    port: z.coerce.number().int().min(0).max(65535).default(8787),
    host: z
      .string()
      .regex(/^[0-9A-Za-z.:-]{1,253}$/, 'host must be an address or a host name, e.g. 0.0.0.0')
      .default('127.0.0.1'),
    cors: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .optional(),
    runtime: z.enum(['workerd', 'node']).default('workerd'),
    token: z.string().min(1).optional(),
  })
  .refine((f) => f.network || f.modelDir, {
    message: 'give --network <id>[,<id>...] or --model-dir <dir>',
    path: ['network'],
  });

runMain(async () => {
  quietWrangler();
  const s = { type: 'string' } as const;
  const f = parseCli(
    process.argv.slice(2),
    { network: s, 'model-dir': s, port: s, host: s, runtime: s, token: s, cors: s },
    Flags,
    HELP,
  );
  const { runtime, port } = f;
  const dirs = f.modelDir
    ? [f.modelDir]
    : (f.network ?? []).map((id) => join(REPO_ROOT, 'models', id));
  const token = f.token ?? process.env.AUTH_TOKEN;
  const problem = token ? tokenProblem(token) : undefined;
  if (problem) throw new CliError(`${f.token ? '--token' : 'AUTH_TOKEN'}: ${problem}`);

  if (!token && !['127.0.0.1', 'localhost', '::1'].includes(f.host)) {
    console.warn(
      `warning: serving on ${f.host} without a token: anyone who can reach it can use it`,
    );
  }
  if (runtime === 'node') await initWasmBackend();
  const running: LocalEndpoint[] = [];
  for (const [i, modelDir] of dirs.entries()) {
    const ep = await startLocalEndpoint({
      modelDir,
      runtime,
      port: port === 0 ? 0 : port + i,
      host: f.host,
      log: (line) => console.log(line),
      ...(f.cors?.length ? { corsOrigins: f.cors } : {}),
      ...(token ? { token } : {}),
    });
    running.push(ep);
    console.log(`${ep.networkId}: ${ep.url} (${runtime}${token ? ', bearer token required' : ''})`);
  }
  const stopped = new Promise<void>((resolve) => {
    const stop = () => void Promise.all(running.map((e) => e.stop())).then(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await stopped;
});
