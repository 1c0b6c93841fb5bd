import * as tf from '@tensorflow/tfjs-core';

/**
 * Pick the tfjs backend for client work in Node, in one place. 'wasm' is the project's wasm
 * backend with fast training kernels (src/core/backend-node.ts, when present); 'cpu' is the
 * stock reference backend (slow conv training, fine for tiny tests). 'auto' tries wasm, then cpu.
 */
export type BackendChoice = 'auto' | 'wasm' | 'cpu';

export async function initClientBackend(choice: BackendChoice = 'auto'): Promise<string> {
  if (choice !== 'cpu') {
    try {
      // A variable specifier keeps this file compiling before backend-node.ts lands.
      const spec = '../core/backend-node';
      const mod = (await import(/* @vite-ignore */ spec)) as {
        initWasmBackend?: (opts?: unknown) => Promise<unknown>;
      };
      if (typeof mod.initWasmBackend !== 'function') throw new Error('no initWasmBackend export');
      await mod.initWasmBackend();
      return tf.getBackend();
    } catch (e) {
      if (choice === 'wasm') {
        throw new Error(`the wasm training backend is unavailable: ${(e as Error).message}`);
      }
    }
  }
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  await tf.ready();
  return tf.getBackend();
}
