/**
 * npm run serve -- --network <id>[,<id>...] [--port 8787] [--host 127.0.0.1]
 *                  [--runtime workerd|node] [--token T] [--cors ORIGINS] [--generators LIST] [--model-dir <dir>]
 * Serves each network on --host (ports port, port+1, ...) until Ctrl-C. workerd runs
 * through wrangler's local dev runtime (no account, no network access); node uses the Node entry.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { GENERATOR_NAME_PATTERN, NetworkIdSchema } from '../src/core/manifest';
import { CliError, defineCli, flag, runMain } from '../src/node/cli';
import { REPO_ROOT } from '../src/node/repo-root';
import { initWasmBackend } from '../src/node/wasm-backend';
import { tokenProblem } from '../src/worker/auth';
import { type LocalEndpoint, startLocalEndpoint } from '../src/worker-host/local-endpoint';
import { quietWrangler } from '../src/worker-host/workerd-local';

/** A comma-separated list (blanks dropped), each item checked by `item`. */
const list = (item: z.ZodType<string, string>, min: number) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(min));

const cli = defineCli({
  usage: 'npm run serve -- --network <id>[,<id>...] | --model-dir <dir> [flags]',
  about: `Serves each network on --host (ports port, port+1, ...) until Ctrl-C. One log line per
request: request id, method, path, status, milliseconds.`,
  flags: {
    network: flag(list(NetworkIdSchema, 1), {
      value: 'IDS',
      help: 'network folders under models/, comma-separated',
    }),
    'model-dir': flag(z.string().min(1), { value: 'DIR', help: 'serve this model folder instead' }),
    port: flag(z.coerce.number().int().min(0).max(65535), {
      value: 'N',
      default: 8787,
      help: 'first port (0 = any free port)',
    }),
    host: flag(
      z
        .string()
        .regex(/^[0-9A-Za-z.:-]{1,253}$/, 'host must be an address or a host name, e.g. 0.0.0.0'),
      {
        value: 'H',
        default: '127.0.0.1',
        help: 'address to listen on\n(0.0.0.0: every interface; then set a token)',
      },
    ),
    cors: flag(list(z.string(), 0), {
      value: 'ORIGINS',
      defaultHelp: 'off',
      help: 'allow browsers on these origins (comma-separated, or *)',
    }),
    generators: flag(
      list(z.string().regex(GENERATOR_NAME_PATTERN, 'a generator name, e.g. vae'), 1),
      {
        value: 'LIST',
        defaultHelp: 'every one the network can make',
        help: 'serve only these generators (comma-separated; wrangler.toml\nSERVED_GENERATORS); npm run audit shows how near each sits to the data',
      },
    ),
    runtime: flag(z.enum(['workerd', 'node']), {
      value: 'R',
      default: 'workerd',
      help: "workerd (wrangler's local runtime) | node",
    }),
    token: flag(z.string().min(1), {
      value: 'T',
      defaultHelp: '$AUTH_TOKEN, else open',
      help: 'require "Authorization: Bearer T"',
    }),
  },
  rules: (f, ctx) => {
    if (!(f.network || f.modelDir)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give --network <id>[,<id>...] or --model-dir <dir>',
        path: ['network'],
      });
    }
  },
});

runMain(async () => {
  quietWrangler();
  const f = cli.parse(process.argv.slice(2));
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
      ...(f.generators?.length ? { servedGenerators: f.generators } : {}),
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
