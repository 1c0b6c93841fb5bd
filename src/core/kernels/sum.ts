import {
  backend_util,
  type KernelConfig,
  type NamedAttrMap,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { delegateTo } from './override';
import { alloc, type FastKernelFunc, f32, type KernelInputs } from './wasm-util';

/**
 * Sum over leading axes of a float32 tensor (bias gradients: sum of dy over N, H, W). The
 * stock kernel transposes the whole tensor first to make the axes innermost; this adds rows
 * in place (float64 accumulators, fixed order: deterministic). Other sums use the stock kernel.
 */
export function makeSum(original: KernelConfig | undefined): FastKernelFunc {
  const next = delegateTo(original, 'Sum');
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as KernelInputs & { x: TensorInfo };
    const { axis, keepDims } = attrs as NamedAttrMap & {
      axis: number | number[];
      keepDims: boolean;
    };
    const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading =
      axes.length > 0 && axes.every((a, i) => a === i) && axes.length < x.shape.length;
    const fallback = () => next({ inputs, backend, attrs });
    if (!leading || x.dtype !== 'float32') return fallback();
    const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = util.sizeFromShape(x.shape.slice(axes.length));
    if (rows < 2 || cols > 1 << 16) return fallback();
    const outShape = x.shape.slice(axes.length);
    const out = alloc(backend, outShape);
    const xs = f32(backend, x);
    const os = f32(backend, out);
    const acc = new Float64Array(cols);
    let i = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) acc[c] = (acc[c] as number) + (xs[i++] as number);
    }
    os.set(acc);
    if (keepDims) out.shape = backend_util.expandShapeToKeepDim(outShape, axes);
    return out;
  };
}
