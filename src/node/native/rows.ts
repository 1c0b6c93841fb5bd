import {
  backend_util,
  type KernelConfig,
  type NamedAttrMap,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import {
  alloc,
  delegateTo,
  type FastKernelFunc,
  f32,
  type KernelInputs,
  portableKernelsOnly,
} from '../../core/kernels/index';
import type { NativeAddon } from './addon';
import { allFloat32 } from './guards';

/** Row-wise kernels of the training step: bias gradients (Sum) and unfused bias adds (Add). */

/** Sum over leading axes (bias gradients), float32; anything else goes to the next kernel. */
export function makeSum(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegateTo(next, 'Sum');
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
export function makeAddBias(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegateTo(next, 'Add');
  return (args) => {
    const { inputs, backend } = args;
    const { a, b } = inputs as KernelInputs & { a: TensorInfo; b: TensorInfo };
    if (portableKernelsOnly() || !allFloat32(a, b)) return fallback(args);
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
