import type { ExecutionContext } from 'hono';
import { loadNetwork } from '../core/model-folder';
import { createApp } from './app';
import { initWorkerdBackend } from './backend-workerd';
import { edgeCache } from './cache';
import {
  corsOriginsFromVars,
  endpointVars,
  limitsFromVars,
  servedGeneratorsFromVars,
} from './config';
import { createServedNetwork, type ServedNetwork } from './served-network';

export interface ModelBundle {
  networkId: string;
  /** Model folder files (relative path -> bytes), bundled as Data modules: never served. */
  files: Record<string, ArrayBuffer>;
}

/**
 * The Worker for one network: the network is loaded (and every sha256 checked) on the first
 * request of an isolate; a failure answers every request with 503 naming the bad file.
 */
export interface WorkerHandler {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

export function createWorker(bundle: ModelBundle): WorkerHandler {
  let served: Promise<ServedNetwork> | undefined;
  const load = async (env: unknown): Promise<ServedNetwork> => {
    const vars = endpointVars(env);
    const limits = limitsFromVars(vars);
    await initWorkerdBackend();
    const net = await loadNetwork(async (path) => {
      const bytes = bundle.files[path];
      if (!bytes) throw new Error(`${path} is not in the Worker bundle`);
      return new Uint8Array(bytes);
    });
    return createServedNetwork(net, {
      kernels: 'fast',
      limits,
      servedGenerators: servedGeneratorsFromVars(vars),
    });
  };
  const app = createApp({
    network: (env) => {
      served ??= load(env);
      return served;
    },
    token: (env) => (env as Partial<Env> | undefined)?.AUTH_TOKEN || undefined,
    cache: edgeCache(),
    corsOrigins: (env) => {
      try {
        return corsOriginsFromVars(endpointVars(env));
      } catch {
        return undefined; // a bad setting answers 503 from the endpoint loader
      }
    },
  });
  return { fetch: (request, env, ctx) => app.fetch(request, env, ctx) };
}
