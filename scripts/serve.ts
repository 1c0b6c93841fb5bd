/**
 * npm run serve -- --network <id>[,<id>...] [--port 8787] [--runtime workerd|node] [--token T]
 *                  [--model-dir <dir>]
 * Serves each network on 127.0.0.1 (ports port, port+1, ...) until Ctrl-C. workerd runs
 * through wrangler's local dev runtime (no account, no network access); node uses the Node entry.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initWasmBackend } from '../src/core/backend-node';
import { type LocalEndpoint, startLocalEndpoint } from '../src/worker/local-endpoint';
import { REPO_ROOT } from '../src/worker/worker-bundle';
import { quietWrangler } from '../src/worker/workerd-local';

quietWrangler();
const { values } = parseArgs({
  options: {
    network: { type: 'string' },
    'model-dir': { type: 'string' },
    port: { type: 'string', default: '8787' },
    runtime: { type: 'string', default: 'workerd' },
    token: { type: 'string' },
  },
  strict: true,
});
const runtime = values.runtime;
if (runtime !== 'workerd' && runtime !== 'node') {
  throw new Error(`--runtime must be workerd or node, got ${runtime}`);
}
const dirs = values['model-dir']
  ? [values['model-dir']]
  : (values.network ?? '')
      .split(',')
      .filter(Boolean)
      .map((id) => join(REPO_ROOT, 'models', id));
if (dirs.length === 0) throw new Error('give --network <id>[,<id>...] or --model-dir <dir>');
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  throw new Error(`bad --port ${values.port}`);
const token = values.token ?? process.env.AUTH_TOKEN;

if (runtime === 'node') await initWasmBackend();
const running: LocalEndpoint[] = [];
for (const [i, modelDir] of dirs.entries()) {
  const ep = await startLocalEndpoint({
    modelDir,
    runtime,
    port: port === 0 ? 0 : port + i,
    ...(token ? { token } : {}),
  });
  running.push(ep);
  console.log(`${ep.networkId}: ${ep.url} (${runtime}${token ? ', bearer token required' : ''})`);
}
const stop = async () => {
  await Promise.all(running.map((e) => e.stop()));
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
