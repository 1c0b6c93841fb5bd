import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { tokenProblem } from '../../src/worker/auth';
import { startNodeEndpoint } from '../../src/worker-host/node-entry';
import { startWorkerdEndpoint } from '../../src/worker-host/workerd-local';
import { writeTinyNetwork } from '../fixtures/tiny-network';
import { runScript } from '../scripts/run-script';
import { expectJsonError } from './helpers';

/** A token the Authorization header cannot carry would start a server nobody can use. */
describe('bearer tokens an Authorization header cannot carry', () => {
  const saved = process.env.AUTH_TOKEN;
  beforeAll(async () => {
    await initWasmBackend();
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.AUTH_TOKEN;
    else process.env.AUTH_TOKEN = saved;
  });

  it('tokenProblem names what is wrong and accepts visible ASCII', () => {
    expect(tokenProblem('s3cr3t-._~+/=')).toBeUndefined();
    expect(tokenProblem('my token')).toMatch(/a space at position 3/);
    expect(tokenProblem('tab\there')).toMatch(/a control character \(U\+0009\) at position 4/);
    expect(tokenProblem('new\nline')).toMatch(/control character/);
    expect(tokenProblem('café')).toMatch(/a non-ASCII character \(U\+00E9\)/);
    expect(tokenProblem('')).toMatch(/empty/);
    expect(tokenProblem('x'.repeat(5000))).toMatch(/5000 characters/);
  });

  it('serve refuses --token "my token" and such an AUTH_TOKEN at start-up, exit 1, no stack', async () => {
    const r = await runScript(
      'serve.ts',
      '--network',
      'net-a',
      '--runtime',
      'node',
      '--port',
      '0',
      '--token',
      'my token',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /--token: the token has a space at position 3, which an Authorization header cannot carry/,
    );
    expect(r.err).not.toMatch(/ at .*\.ts:\d+/);
    process.env.AUTH_TOKEN = 'tök';
    const e = await runScript('serve.ts', '--network', 'net-a', '--runtime', 'node', '--port', '0');
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/AUTH_TOKEN: the token has a non-ASCII character/);
  }, 60_000);

  it('the Node entry refuses to start', async () => {
    const { dir } = await writeTinyNetwork();
    await expect(startNodeEndpoint({ modelDir: dir, token: 'my token' })).rejects.toThrow(
      /bearer token refused: the token has a space/,
    );
  });

  it('the Worker (workerd) with such an AUTH_TOKEN answers 503 misconfigured, not 401 to everyone', async () => {
    const { dir } = await writeTinyNetwork({ networkId: 'net-tok' });
    const ep = await startWorkerdEndpoint({ modelDir: dir, token: 'my token' });
    try {
      const res = await fetch(`${ep.url}/v1/network`, { headers: { authorization: 'Bearer my' } });
      await expectJsonError(res, 503, 'misconfigured');
    } finally {
      await ep.stop();
    }
  }, 120_000);
});
