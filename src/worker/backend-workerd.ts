import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerFastKernels } from '../core/kernels/index';

/**
 * The tfjs wasm backend inside workerd, which cannot compile wasm from bytes: the SIMD binary
 * is bundled as a compiled module (wrangler's CompiledWasm rule), tfjs is pointed at a dummy
 * `data:` URL with platform fetch, and `WebAssembly.instantiate` is handed the bundled module
 * for the moment of instantiation. No threads in Workers. Then the fast conv kernels.
 */
let ready: Promise<void> | undefined;

export function initWorkerdBackend(): Promise<void> {
  ready ??= init();
  return ready;
}

async function init(): Promise<void> {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
  const dummy = 'data:application/wasm;base64,AA==';
  setWasmPaths(
    {
      'tfjs-backend-wasm.wasm': dummy,
      'tfjs-backend-wasm-simd.wasm': dummy,
      'tfjs-backend-wasm-threaded-simd.wasm': dummy,
    },
    true,
  );
  const instantiate = WebAssembly.instantiate;
  const patched = (source: unknown, imports?: WebAssembly.Imports) =>
    source instanceof WebAssembly.Module
      ? instantiate(source, imports)
      : instantiate(simdWasm, imports).then((instance) => ({ instance, module: simdWasm }));
  (WebAssembly as { instantiate: unknown }).instantiate = patched;
  try {
    registerFastKernels();
    if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') {
      throw new Error('the tfjs wasm backend did not initialise in workerd');
    }
  } finally {
    (WebAssembly as { instantiate: unknown }).instantiate = instantiate;
  }
}
