import * as os from 'node:os';
import { kernelLayers, overrideKernel, removeOverride } from '../../core/kernels/index';
import { loadNativeAddon } from './addon';
import { makeBackpropFilter, makeBackpropInput, makeConv2D } from './conv';
import type { NativeKernelMaker } from './guards';
import { makeMatMul } from './matmul';
import { makeAddBias, makeSum } from './rows';

/**
 * Registers the native kernels as the 'native' layer (src/core/kernels/override.ts) over the
 * fast wasm kernels. They handle float32 NHWC cases and hand everything else to the kernel they
 * wrap; inside `portableKernels()` they always hand over (their last bits differ from XNNPACK's).
 */
const KERNELS: [string, NativeKernelMaker][] = [
  ['Conv2D', makeConv2D],
  ['FusedConv2D', makeConv2D],
  ['Conv2DBackpropFilter', makeBackpropFilter],
  ['Conv2DBackpropInput', makeBackpropInput],
  ['BatchMatMul', makeMatMul],
  ['_FusedMatMul', makeMatMul],
  ['Sum', makeSum],
  ['Add', makeAddBias],
];

export interface NativeKernelOptions {
  /** Pool size (default KS_NATIVE_THREADS, else os.availableParallelism()). */
  threads?: number;
}

/**
 * Registers the native kernels on 'wasm' (call it after `registerFastKernels()`). Returns false,
 * changing nothing, when the addon is unavailable. Idempotent; a later call only changes the
 * thread count.
 */
export function registerNativeKernels(opts: NativeKernelOptions = {}): boolean {
  const addon = loadNativeAddon();
  if (addon === null) return false;
  const env = Number(process.env.KS_NATIVE_THREADS);
  const threads = opts.threads ?? (env >= 1 ? env : os.availableParallelism());
  addon.threads(Math.max(1, Math.min(64, Math.floor(threads))));
  for (const [name, make] of KERNELS) overrideKernel(name, (next) => make(addon, next), 'native');
  return true;
}

/** Puts back the kernels `registerNativeKernels()` wrapped. */
export function unregisterNativeKernels(): void {
  for (const [name] of KERNELS) removeOverride(name, 'native');
}

/** Whether the native kernels are registered now. */
export function nativeKernelsActive(): boolean {
  return kernelLayers('Conv2D')[0] === 'native';
}
