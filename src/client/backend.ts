import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { initWasmBackend } from '../node/wasm-backend';

/**
 * Pick the tfjs backend for client work in Node, in one place. 'wasm' is the project's wasm
 * backend with fast training kernels (src/node/wasm-backend.ts), single-threaded unless
 * `threads` says otherwise (the optional native kernels use `nativeThreads`, default all cores); 'cpu' is the stock reference backend (slow conv training).
 */
export type BackendChoice = 'wasm' | 'cpu';

export async function initClientBackend(
  choice: BackendChoice = 'wasm',
  opts: { threads?: number; nativeThreads?: number } = {},
): Promise<string> {
  if (choice === 'wasm') {
    await initWasmBackend({
      ...(opts.threads === undefined ? {} : { threads: opts.threads }),
      ...(opts.nativeThreads === undefined ? {} : { nativeThreads: opts.nativeThreads }),
    });
  } else {
    await tf.setBackend('cpu');
    await tf.ready();
  }
  return tf.getBackend();
}
