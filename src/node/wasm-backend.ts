import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerFastKernels } from '../core/kernels/index';
import { registerNativeKernels, unregisterNativeKernels } from './native/index';

/**
 * Node-only set-up of the tfjs 'wasm' backend (the Worker has its own; both end in
 * `registerFastKernels()`).
 *
 * threads = 1 (default): the SIMD binary, single-threaded, deterministic.
 * threads > 1: the threaded SIMD binary, with two work-arounds for Node that tfjs 4.22 lacks:
 *  - tfjs caps XNNPACK's pool at half the logical cores (1 on a 2-core machine), computed from
 *    `os.cpus().length` while the module instantiates: we report 2*threads cpus for that moment;
 *  - emscripten starts its pthread workers from a blob: URL, which worker_threads cannot load:
 *    the worker script is written to a temp file, and the worker is told where the main script is.
 * The backend can only be initialised once per process; a second call only applies `native`.
 *
 * native (default true): the optional OpenBLAS kernels of src/node/native/ (convs and
 * matmuls; built by `npm ci` when libopenblas-dev is installed) replace their wasm versions;
 * without the addon this silently stays on wasm (`nativeKernelsActive()` says which). They use
 * their own pool of `nativeThreads` threads (default: all cores), independent of `threads`.
 */
export interface WasmBackendOptions {
  threads?: number;
  native?: boolean;
  nativeThreads?: number;
}

const require = createRequire(import.meta.url);

export async function initWasmBackend(opts: WasmBackendOptions = {}): Promise<void> {
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  registerFastKernels();
  if (opts.native === false) unregisterNativeKernels();
  else
    registerNativeKernels(opts.nativeThreads === undefined ? {} : { threads: opts.nativeThreads });
  if (tf.getBackend() === 'wasm') return;
  if ((tf.engine().registry as Record<string, unknown>).wasm !== undefined) {
    // Initialised before (by us or someone else): just select it.
    await setBackendOrThrow();
    return;
  }
  if (threads <= 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await setBackendOrThrow();
    return;
  }
  const mainJs = require.resolve(
    '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js',
  );
  const { wasmWorkerContents } =
    require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as {
      wasmWorkerContents: string;
    };
  const script =
    `URL.createObjectURL=()=>${JSON.stringify(mainJs)};URL.revokeObjectURL=()=>{};\n` +
    wasmWorkerContents.replace(/\n/g, '\\n');
  const digest = simpleHash(script);
  const workerFile = path.join(os.tmpdir(), `tfjs-wasm-pthread-${digest}.cjs`);
  if (!fs.existsSync(workerFile) || fs.readFileSync(workerFile, 'utf8') !== script) {
    const tmp = `${workerFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script);
    fs.renameSync(tmp, workerFile);
  }
  const nodeOs = require('node:os') as { cpus: typeof os.cpus };
  const cpus = nodeOs.cpus;
  const createObjectURL = URL.createObjectURL;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  nodeOs.cpus = () => {
    const real = cpus();
    const first = real[0];
    return first === undefined ? real : Array.from({ length: 2 * threads }, () => first);
  };
  URL.createObjectURL = () => workerFile;
  try {
    await setBackendOrThrow();
  } finally {
    nodeOs.cpus = cpus;
    URL.createObjectURL = createObjectURL;
  }
}

async function setBackendOrThrow(): Promise<void> {
  const ok = await tf.setBackend('wasm');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'wasm') throw new Error('could not initialise the wasm backend');
}

/** The XNNPACK thread count of the initialised wasm backend. */
export function wasmThreads(): number {
  return wasm.getThreadsCount();
}

function simpleHash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}
