import { type TensorInfo, util } from '@tensorflow/tfjs-core';
import { alloc, f32, type KernelInputs, sumOverLeadingAxes } from '../../core/kernels/index';
import { allFloat32, type NativeKernelMaker, nativeKernel } from './guards';

/** Row-wise kernels of the training step: bias gradients (Sum) and unfused bias adds (Add). */

/** Sum over leading axes (bias gradients), float32; anything else goes to the next kernel. */
export const makeSum: NativeKernelMaker = (addon, next) =>
  nativeKernel(next, 'Sum', ({ inputs, backend, attrs }) => {
    const { x } = inputs as KernelInputs & { x: TensorInfo };
    if (x.dtype !== 'float32') return null;
    const sum = sumOverLeadingAxes(x, attrs);
    if (sum === null || sum.rows < 2 || sum.cols < 1) return null;
    const out = alloc(backend, sum.outShape);
    addon.sumRows(f32(backend, x), f32(backend, out), sum.rows, sum.cols);
    if (sum.keptShape !== null) out.shape = sum.keptShape;
    return out;
  });

/** x[..., C] + b[C] (either order), float32; same-shape and other broadcasts: the next kernel. */
export const makeAddBias: NativeKernelMaker = (addon, next) =>
  nativeKernel(next, 'Add', ({ inputs, backend }) => {
    const { a, b } = inputs as KernelInputs & { a: TensorInfo; b: TensorInfo };
    if (!allFloat32(a, b)) return null;
    const sa = util.sizeFromShape(a.shape);
    const sb = util.sizeFromShape(b.shape);
    const [x, bias] = sa >= sb ? [a, b] : [b, a];
    const cols = x.shape[x.shape.length - 1] ?? 0;
    const rows = cols > 0 ? util.sizeFromShape(x.shape) / cols : 0;
    const biasShapeOk =
      bias.shape.length <= x.shape.length &&
      bias.shape[bias.shape.length - 1] === cols &&
      bias.shape.slice(0, -1).every((d) => d === 1);
    if (!biasShapeOk || rows < 2 || cols < 1) return null;
    const out = alloc(backend, x.shape);
    addon.addBias(f32(backend, x), f32(backend, bias), f32(backend, out), rows, cols);
    return out;
  });
