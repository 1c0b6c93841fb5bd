import {
  backend_util,
  type KernelConfig,
  type NamedAttrMap,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { delegateTo } from './override';
import { alloc, type FastKernelFunc, f32, type KernelInputs } from './wasm-util';

/** A sum over leading axes seen as rows x cols (the rows are added); null for other axes. */
export interface LeadingAxesSum {
  rows: number;
  cols: number;
  /** The output's shape as allocated ... */
  outShape: number[];
  /** ... and as returned, with keepDims (null without it). */
  keptShape: number[] | null;
}

/** How a Sum kernel's `x` and attrs read as rows to add, or null when the axes do not lead. */
export function sumOverLeadingAxes(x: TensorInfo, attrs: NamedAttrMap): LeadingAxesSum | null {
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.every((a, i) => a === i) && axes.length < x.shape.length;
  if (!leading) return null;
  const outShape = x.shape.slice(axes.length);
  return {
    rows: util.sizeFromShape(x.shape.slice(0, axes.length)),
    cols: util.sizeFromShape(outShape),
    outShape,
    keptShape: keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : null,
  };
}

/**
 * Sum over leading axes of a float32 tensor (bias gradients: sum of dy over N, H, W). The
 * stock kernel transposes the whole tensor first to make the axes innermost; this adds rows
 * in place (float64 accumulators, fixed order: deterministic). Other sums use the stock kernel.
 */
export function makeSum(original: KernelConfig | undefined): FastKernelFunc {
  const next = delegateTo(original, 'Sum');
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as KernelInputs & { x: TensorInfo };
    const sum = sumOverLeadingAxes(x, attrs);
    if (sum === null || x.dtype !== 'float32' || sum.rows < 2 || sum.cols > 1 << 16) {
      return next({ inputs, backend, attrs });
    }
    const { rows, cols } = sum;
    const out = alloc(backend, sum.outShape);
    const xs = f32(backend, x);
    const os = f32(backend, out);
    const acc = new Float64Array(cols);
    let i = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) acc[c] = (acc[c] as number) + (xs[i++] as number);
    }
    os.set(acc);
    if (sum.keptShape !== null) out.shape = sum.keptShape;
    return out;
  };
}
