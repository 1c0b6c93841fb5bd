import { type KernelConfig, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { delegateTo } from './override';
import { type FastKernelFunc, free, gemm, type KernelInputs, run, view } from './wasm-util';

/**
 * BatchMatMul: stock wasm runs XNNPACK only for un-transposed, batch-1 operands (single
 * threaded) and a scalar loop otherwise. Transposed operands are transposed first, and the
 * product runs on XNNPACK's threaded GEMM. Broadcast/batched products keep the stock kernel.
 */
export function makeBatchMatMul(original: KernelConfig | undefined): FastKernelFunc {
  const next = delegateTo(original, 'BatchMatMul');
  return ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as KernelInputs & { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as NamedAttrMap & {
      transposeA: boolean;
      transposeB: boolean;
    };
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    if (batchA !== 1 || batchB !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return next({ inputs, backend, attrs });
    }
    const a0 = a.shape[ra - 2] as number;
    const a1 = a.shape[ra - 1] as number;
    const b0 = b.shape[rb - 2] as number;
    const b1 = b.shape[rb - 1] as number;
    const m = transposeA ? a1 : a0;
    const k = transposeA ? a0 : a1;
    const n = transposeB ? b0 : b1;
    const at = transposeA
      ? run('Transpose', backend, { x: view(a, [a0, a1]) }, { perm: [1, 0] })
      : a;
    const bt = transposeB
      ? run('Transpose', backend, { x: view(b, [b0, b1]) }, { perm: [1, 0] })
      : b;
    const out = gemm(backend, at, bt, m, k, n);
    if (transposeA) free(backend, at);
    if (transposeB) free(backend, bt);
    const outRank = Math.max(ra, rb);
    out.shape = [...new Array<number>(outRank - 2).fill(1), m, n];
    return out;
  };
}
