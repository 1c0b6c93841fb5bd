import {
  getKernel,
  type KernelConfig,
  registerKernel,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import type { FastKernelFunc } from './wasm-util';

/**
 * The one way this project patches a tfjs kernel on the 'wasm' backend. Every patch is a layer:
 * `overrideKernel(name, make, layer)` wraps whatever is registered now (`make` receives it, for
 * the cases it hands back) and marks the new kernel with its layer and the kernel it replaced.
 * Layers in use: 'fast' (src/core/kernels, runtime-neutral) and 'native' (the optional Node
 * OpenBLAS kernels, src/node/native). Registering a layer that is already in a kernel's chain
 * does nothing, so every registration is idempotent; `removeOverride` unwraps the top layer.
 * The only state is the tfjs kernel registry itself.
 */
export type KernelLayer = 'fast' | 'native';

const MARK = Symbol.for('knowledge-sharing.kernelOverride');
interface Mark {
  layer: KernelLayer;
  previous: KernelConfig | undefined;
}
type Marked = { [MARK]?: Mark };

const markOf = (k: KernelConfig | undefined): Mark | undefined =>
  k === undefined ? undefined : (k.kernelFunc as unknown as Marked)[MARK];

/** The layers wrapped around the kernel registered for `kernelName`, outermost first. */
export function kernelLayers(kernelName: string): KernelLayer[] {
  const layers: KernelLayer[] = [];
  for (let m = markOf(getKernel(kernelName, 'wasm')); m !== undefined; m = markOf(m.previous)) {
    layers.push(m.layer);
  }
  return layers;
}

/**
 * Registers `make(current)` for `kernelName` on 'wasm' as `layer`, replacing (and wrapping) the
 * kernel registered now. Returns false, changing nothing, when `layer` is already in its chain.
 */
export function overrideKernel(
  kernelName: string,
  make: (current: KernelConfig | undefined) => FastKernelFunc,
  layer: KernelLayer = 'fast',
): boolean {
  if (kernelLayers(kernelName).includes(layer)) return false;
  const current = getKernel(kernelName, 'wasm');
  const fn = make(current) as unknown as KernelConfig['kernelFunc'] & Marked;
  fn[MARK] = { layer, previous: current };
  const config: KernelConfig = { kernelName, backendName: 'wasm', kernelFunc: fn };
  if (current?.setupFunc !== undefined) config.setupFunc = current.setupFunc;
  if (current?.disposeFunc !== undefined) config.disposeFunc = current.disposeFunc;
  if (current !== undefined) unregisterKernel(kernelName, 'wasm');
  registerKernel(config);
  return true;
}

/** Puts back the kernel that `layer` wrapped, when `layer` is the outermost one. */
export function removeOverride(kernelName: string, layer: KernelLayer): boolean {
  const current = getKernel(kernelName, 'wasm');
  const mark = markOf(current);
  if (mark?.layer !== layer) return false;
  unregisterKernel(kernelName, 'wasm');
  if (mark.previous !== undefined) registerKernel(mark.previous);
  return true;
}

/** The kernel an override hands the cases it does not handle to (throws when there is none). */
export function delegateTo(next: KernelConfig | undefined, kernelName: string): FastKernelFunc {
  return ({ inputs, backend, attrs }) => {
    if (next === undefined) throw new Error(`${kernelName}: no wasm kernel for these arguments`);
    return next.kernelFunc({ inputs, backend, attrs } as never) as ReturnType<FastKernelFunc>;
  };
}

const PORTABLE = Symbol.for('knowledge-sharing.portableKernels');
type PortableState = { [PORTABLE]?: number };

/**
 * Runs `f` (synchronous) with only the kernels the Worker also has: platform-specific layers
 * (the Node native kernels) step aside while it runs, so its outputs are bit-identical across
 * runtimes (packet generation needs that).
 */
export function portableKernels<T>(f: () => T): T {
  const g = globalThis as PortableState;
  g[PORTABLE] = (g[PORTABLE] ?? 0) + 1;
  try {
    return f();
  } finally {
    g[PORTABLE] = (g[PORTABLE] ?? 1) - 1;
  }
}

/** True inside `portableKernels()`: a platform-specific kernel must hand over to the next one. */
export function portableKernelsOnly(): boolean {
  return ((globalThis as PortableState)[PORTABLE] ?? 0) > 0;
}
