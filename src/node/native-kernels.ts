import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  backend_util,
  broadcast_util,
  getKernel,
  type KernelConfig,
  type NamedAttrMap,
  registerKernel,
  type TensorInfo,
  unregisterKernel,
  util,
} from '@tensorflow/tfjs-core';
import {
  alloc,
  type FastKernelFunc,
  f32,
  type KernelInputs,
  portableKernelsOnly,
} from '../core/kernels/wasm-util';

/**
 * Optional native kernels for the tfjs 'wasm' backend under Node: an N-API addon (native/) on
 * OpenBLAS sgemm + im2col/col2im, multithreaded over a fixed pool, working in place on the wasm
 * heap (Float32Array views, no copies). They replace Conv2D, FusedConv2D, Conv2DBackpropFilter,
 * Conv2DBackpropInput, BatchMatMul, _FusedMatMul, Sum (over leading axes: bias gradients) and Add
 * of a bias (x[..., C] + b[C], unfused layers while training) on 'wasm' for float32 NHWC cases, and hand
 * everything else to the kernel they wrap (the fast wasm kernels, else stock).
 *
 * The addon is built by `npm ci` (postinstall: native/build.mjs) when libopenblas-dev is
 * installed, and can be built later with `npm run build:native`. Without it (or with
 * KS_NATIVE=0 in the environment), `registerNativeKernels()` returns false and nothing changes.
 *
 * Determinism: work is cut into tasks whose boundaries, and the order of every reduction, depend
 * on the shapes only; threads (`threads`, default `os.availableParallelism()`, or
 * KS_NATIVE_THREADS) just take tasks from a queue. So results are bit-identical for any thread
 * count on a given machine (OpenBLAS picks its kernels for the CPU at load time). The last bits
 * differ from XNNPACK's, so code that must match the Worker bit for bit (packet generation) runs
 * inside `portableKernels()`, where these kernels step aside.
 */

export interface NativeAddon {
  conv2d(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    params: Int32Array,
    act: number,
    alpha: number,
  ): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, p: Int32Array): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, p: Int32Array): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    c: Float32Array,
    params: Int32Array,
    act: number,
    alpha: number,
  ): void;
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  addBias(x: Float32Array, bias: Float32Array, out: Float32Array, rows: number, cols: number): void;
  threads(n?: number): number;
  blas(): string;
}

export const NATIVE_ADDON_PATH = fileURLToPath(
  new URL('../../native/build/Release/ks_native.node', import.meta.url),
);

let cached: { addon: NativeAddon | null; error: string | null } | undefined;

/** The addon, or null (with the reason in `nativeAddonError()`) when it is not usable. */
export function loadNativeAddon(): NativeAddon | null {
  if (cached !== undefined) return cached.addon;
  if (process.env.KS_NATIVE === '0') {
    cached = { addon: null, error: 'disabled by KS_NATIVE=0' };
  } else if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    cached = { addon: null, error: 'not built (npm run build:native; needs libopenblas-dev)' };
  } else {
    // OpenBLAS must not start its own thread pool: we call it from ours, one thread per call.
    process.env.OPENBLAS_NUM_THREADS ??= '1';
    try {
      const addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
      cached = { addon, error: null };
    } catch (e) {
      cached = { addon: null, error: e instanceof Error ? e.message : String(e) };
    }
  }
  return cached.addon;
}

export function nativeAddonError(): string | null {
  loadNativeAddon();
  return cached?.error ?? null;
}

const NATIVE = Symbol.for('knowledge-sharing.nativeKernel');
type Marked = { [NATIVE]?: KernelConfig | undefined };

const KERNELS: [string, (addon: NativeAddon, next: KernelConfig | undefined) => FastKernelFunc][] =
  [
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
 * Registers the native kernels on 'wasm' (wrapping whatever is registered there now: call it
 * after `registerFastKernels()`). Returns false, changing nothing, when the addon is
 * unavailable. Idempotent; a later call only changes the thread count.
 */
export function registerNativeKernels(opts: NativeKernelOptions = {}): boolean {
  const addon = loadNativeAddon();
  if (addon === null) return false;
  const env = Number(process.env.KS_NATIVE_THREADS);
  const threads = opts.threads ?? (env >= 1 ? env : os.availableParallelism());
  addon.threads(Math.max(1, Math.min(64, Math.floor(threads))));
  for (const [name, make] of KERNELS) {
    const current = getKernel(name, 'wasm');
    if (current !== undefined && NATIVE in (current.kernelFunc as unknown as Marked)) continue;
    const fn = make(addon, current) as unknown as KernelConfig['kernelFunc'] & Marked;
    fn[NATIVE] = current;
    // registerFastKernels() leaves a kernel marked as fast alone (it would wrap us again).
    (fn as unknown as Record<symbol, boolean>)[Symbol.for('knowledge-sharing.fastKernel')] = true;
    const config: KernelConfig = { kernelName: name, backendName: 'wasm', kernelFunc: fn };
    if (current?.setupFunc !== undefined) config.setupFunc = current.setupFunc;
    if (current?.disposeFunc !== undefined) config.disposeFunc = current.disposeFunc;
    if (current !== undefined) unregisterKernel(name, 'wasm');
    registerKernel(config);
  }
  return true;
}

/** Puts back the kernels `registerNativeKernels()` wrapped. */
export function unregisterNativeKernels(): void {
  for (const [name] of KERNELS) {
    const current = getKernel(name, 'wasm');
    if (current === undefined || !(NATIVE in (current.kernelFunc as unknown as Marked))) continue;
    const previous = (current.kernelFunc as unknown as Marked)[NATIVE];
    unregisterKernel(name, 'wasm');
    if (previous !== undefined) registerKernel(previous);
  }
}

/** Whether the native kernels are registered now. */
export function nativeKernelsActive(): boolean {
  const k = getKernel('Conv2D', 'wasm');
  return k !== undefined && NATIVE in (k.kernelFunc as unknown as Marked);
}

/** Pool size and BLAS build of the loaded addon (null without it). */
export function nativeInfo(): { threads: number; blas: string } | null {
  const addon = loadNativeAddon();
  return addon === null ? null : { threads: addon.threads(), blas: addon.blas() };
}

// ---------------------------------------------------------------------------------------------

const ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 4,
  sigmoid: 5,
  elu: 6,
};

function delegate(next: KernelConfig | undefined, name: string): FastKernelFunc {
  return ({ inputs, backend, attrs }) => {
    if (next === undefined) throw new Error(`${name}: no wasm kernel for these arguments`);
    return next.kernelFunc({ inputs, backend, attrs } as never) as TensorInfo;
  };
}

function convParams(info: backend_util.Conv2DInfo): Int32Array {
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  );
}

type Shape4 = [number, number, number, number];
type ConvAttrs = NamedAttrMap & {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
};

/** A float32 bias of `n` values along the last axis ([n], [1, n], ...). */
const isRowBias = (bias: TensorInfo, n: number) =>
  bias.dtype === 'float32' &&
  util.sizeFromShape(bias.shape) === n &&
  (bias.shape.length === 0 ? n === 1 : bias.shape[bias.shape.length - 1] === n);

const nhwc = (a: ConvAttrs) =>
  a.dataFormat === undefined ||
  backend_util.convertConv2DDataFormat(a.dataFormat) === 'channelsLast';

/** Conv2D and FusedConv2D (bias + activation in the same pass; PReLU goes to the next kernel). */
function makeConv2D(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegate(next, 'Conv2D');
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as ConvAttrs;
    const { x, filter, bias, preluActivationWeights } = inputs as KernelInputs & {
      x: TensorInfo;
      filter: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const act = ACTIVATIONS[attrs.activation ?? 'linear'];
    if (
      portableKernelsOnly() ||
      act === undefined ||
      preluActivationWeights != null ||
      !nhwc(attrs) ||
      x.dtype !== 'float32' ||
      filter.dtype !== 'float32' ||
      x.shape.length !== 4 ||
      filter.shape.length !== 4
    ) {
      return fallback(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (bias != null && !isRowBias(bias, info.outChannels)) return fallback(args);
    const out = alloc(backend, info.outShape);
    addon.conv2d(
      f32(backend, x),
      f32(backend, filter),
      bias == null ? null : f32(backend, bias),
      f32(backend, out),
      convParams(info),
      act,
      attrs.leakyreluAlpha ?? 0,
    );
    return out;
  };
}

function makeBackpropFilter(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegate(next, 'Conv2DBackpropFilter');
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as ConvAttrs & { filterShape: Shape4 };
    const { x, dy } = inputs as KernelInputs & { x: TensorInfo; dy: TensorInfo };
    if (portableKernelsOnly() || !nhwc(attrs) || x.dtype !== 'float32' || dy.dtype !== 'float32') {
      return fallback(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4,
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (!util.arraysEqual(dy.shape, info.outShape)) return fallback(args);
    const out = alloc(backend, attrs.filterShape);
    addon.conv2dBackpropFilter(
      f32(backend, x),
      f32(backend, dy),
      f32(backend, out),
      convParams(info),
    );
    return out;
  };
}

function makeBackpropInput(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegate(next, 'Conv2DBackpropInput');
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as ConvAttrs & { inputShape: Shape4 };
    const { dy, filter } = inputs as KernelInputs & { dy: TensorInfo; filter: TensorInfo };
    if (
      portableKernelsOnly() ||
      !nhwc(attrs) ||
      dy.dtype !== 'float32' ||
      filter.dtype !== 'float32'
    ) {
      return fallback(args);
    }
    const info = backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as Shape4,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (!util.arraysEqual(dy.shape, info.outShape)) return fallback(args);
    const out = alloc(backend, attrs.inputShape);
    addon.conv2dBackpropInput(
      f32(backend, dy),
      f32(backend, filter),
      f32(backend, out),
      convParams(info),
    );
    return out;
  };
}

/** BatchMatMul and _FusedMatMul: equal batches or one side broadcast (batch 1). */
function makeMatMul(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegate(next, 'BatchMatMul');
  return (args) => {
    const { inputs, backend } = args;
    const { a, b, bias, preluActivationWeights } = inputs as KernelInputs & {
      a: TensorInfo;
      b: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const attrs = args.attrs as NamedAttrMap & {
      transposeA: boolean;
      transposeB: boolean;
      activation?: string;
      leakyreluAlpha?: number;
    };
    const act = ACTIVATIONS[attrs.activation ?? 'linear'];
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (
      portableKernelsOnly() ||
      act === undefined ||
      preluActivationWeights != null ||
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      ra < 2 ||
      rb < 2
    ) {
      return fallback(args);
    }
    const m = a.shape[attrs.transposeA ? ra - 1 : ra - 2] as number;
    const k = a.shape[attrs.transposeA ? ra - 2 : ra - 1] as number;
    const kb = b.shape[attrs.transposeB ? rb - 1 : rb - 2] as number;
    const n = b.shape[attrs.transposeB ? rb - 2 : rb - 1] as number;
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    if (k !== kb || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return fallback(args);
    const outBatch = broadcast_util.assertAndGetBroadcastShape(
      a.shape.slice(0, -2),
      b.shape.slice(0, -2),
    );
    const batch = Math.max(batchA, batchB);
    if (util.sizeFromShape(outBatch) !== batch) return fallback(args);
    if (bias != null && !isRowBias(bias, n)) return fallback(args);
    if (batch * m * n === 0 || k === 0) return fallback(args);
    const out = alloc(backend, [...outBatch, m, n]);
    addon.matmul(
      f32(backend, a),
      f32(backend, b),
      bias == null ? null : f32(backend, bias),
      f32(backend, out),
      Int32Array.of(
        batch,
        m,
        n,
        k,
        attrs.transposeA ? 1 : 0,
        attrs.transposeB ? 1 : 0,
        batchA,
        batchB,
      ),
      act,
      attrs.leakyreluAlpha ?? 0,
    );
    return out;
  };
}

/** Sum over leading axes (bias gradients), float32; anything else goes to the next kernel. */
function makeSum(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegate(next, 'Sum');
  return (args) => {
    const { inputs, backend } = args;
    const { x } = inputs as KernelInputs & { x: TensorInfo };
    const { axis, keepDims } = args.attrs as NamedAttrMap & {
      axis: number | number[];
      keepDims: boolean;
    };
    if (portableKernelsOnly() || x.dtype !== 'float32') return fallback(args);
    const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading =
      axes.length > 0 && axes.every((v, i) => v === i) && axes.length < x.shape.length;
    if (!leading) return fallback(args);
    const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = util.sizeFromShape(x.shape.slice(axes.length));
    if (rows < 2 || cols < 1) return fallback(args);
    const outShape = x.shape.slice(axes.length);
    const out = alloc(backend, outShape);
    addon.sumRows(f32(backend, x), f32(backend, out), rows, cols);
    if (keepDims) out.shape = backend_util.expandShapeToKeepDim(outShape, axes);
    return out;
  };
}

/** x[..., C] + b[C] (either order), float32; same-shape and other broadcasts: the next kernel. */
function makeAddBias(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegate(next, 'Add');
  return (args) => {
    const { inputs, backend } = args;
    const { a, b } = inputs as KernelInputs & { a: TensorInfo; b: TensorInfo };
    if (portableKernelsOnly() || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return fallback(args);
    }
    const sa = util.sizeFromShape(a.shape);
    const sb = util.sizeFromShape(b.shape);
    const [x, bias] = sa >= sb ? [a, b] : [b, a];
    const cols = x.shape[x.shape.length - 1] ?? 0;
    const rows = cols > 0 ? util.sizeFromShape(x.shape) / cols : 0;
    const biasShapeOk =
      bias.shape.length <= x.shape.length &&
      bias.shape[bias.shape.length - 1] === cols &&
      bias.shape.slice(0, -1).every((d) => d === 1);
    if (!biasShapeOk || rows < 2 || cols < 1) return fallback(args);
    const out = alloc(backend, x.shape);
    addon.addBias(f32(backend, x), f32(backend, bias), f32(backend, out), rows, cols);
    return out;
  };
}
