import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  type backend_util,
  getKernel,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

/**
 * Backend-level helpers shared by the fast kernels. Everything here works on `TensorInfo`s
 * owned by the wasm backend (no engine tensors, no tracking): an intermediate made with
 * `alloc` must be released with `free` unless it is the kernel's output. Registering kernels:
 * ./override.ts.
 */

export type Wasm = BackendWasm;
export type KernelInputs = Record<string, TensorInfo>;
export type FastKernelFunc = (args: {
  inputs: KernelInputs;
  backend: Wasm;
  attrs: NamedAttrMap;
}) => TensorInfo;

/** Runs the kernel currently registered for `name` on the wasm backend. */
export function run(
  name: string,
  backend: Wasm,
  inputs: KernelInputs,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const k = getKernel(name, 'wasm');
  if (k === undefined) throw new Error(`fast kernels: no wasm kernel '${name}'`);
  return k.kernelFunc({ inputs, backend, attrs } as never) as TensorInfo;
}

export function alloc(backend: Wasm, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

export function free(backend: Wasm, t: TensorInfo): void {
  backend.disposeData(t.dataId);
}

/** A view of a float32 tensor on the wasm heap. Re-take it after any allocation. */
export function f32(backend: Wasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** The same data seen with another shape (no copy, no ref-count change: do not free it). */
export function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/**
 * A stride-1 NHWC Conv2D on XNNPACK (threaded). `pad`: 'valid' or [top, bottom, left, right].
 */
export function conv2d(
  backend: Wasm,
  x: TensorInfo,
  filter: TensorInfo,
  pad: 'valid' | [number, number, number, number],
  dilations: [number, number] = [1, 1],
): TensorInfo {
  const explicit: backend_util.ExplicitPadding | undefined =
    pad === 'valid'
      ? undefined
      : [
          [0, 0],
          [pad[0], pad[1]],
          [pad[2], pad[3]],
          [0, 0],
        ];
  const attrs = { strides: [1, 1], pad: explicit ?? 'valid', dataFormat: 'NHWC', dilations };
  return run('Conv2D', backend, { x, filter }, attrs);
}

/** Plain matrix product [M,K] x [K,N] on XNNPACK's GEMM (as a 1x1 Conv2D, which is threaded). */
export function gemm(
  backend: Wasm,
  a: TensorInfo,
  b: TensorInfo,
  m: number,
  k: number,
  n: number,
): TensorInfo {
  return conv2d(backend, view(a, [1, 1, m, k]), view(b, [1, 1, k, n]), 'valid');
}
