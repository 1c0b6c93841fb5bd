import { broadcast_util, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { alloc, f32, type KernelInputs } from '../../core/kernels/index';
import { activationCode, matmulParams } from './abi';
import { allFloat32, isRowBias, type NativeKernelMaker, nativeKernel } from './guards';

/** BatchMatMul and _FusedMatMul: equal batches or one side broadcast (batch 1). */
export const makeMatMul: NativeKernelMaker = (addon, next) =>
  nativeKernel(next, 'BatchMatMul', ({ inputs, backend, attrs: named }) => {
    const { a, b, bias, preluActivationWeights } = inputs as KernelInputs & {
      a: TensorInfo;
      b: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const attrs = named as {
      transposeA: boolean;
      transposeB: boolean;
      activation?: string;
      leakyreluAlpha?: number;
    };
    const act = activationCode(attrs.activation);
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (
      act === undefined ||
      preluActivationWeights != null ||
      !allFloat32(a, b) ||
      ra < 2 ||
      rb < 2
    ) {
      return null;
    }
    const m = a.shape[attrs.transposeA ? ra - 1 : ra - 2] as number;
    const k = a.shape[attrs.transposeA ? ra - 2 : ra - 1] as number;
    const kb = b.shape[attrs.transposeB ? rb - 1 : rb - 2] as number;
    const n = b.shape[attrs.transposeB ? rb - 2 : rb - 1] as number;
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    if (k !== kb || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return null;
    const outBatch = broadcast_util.assertAndGetBroadcastShape(
      a.shape.slice(0, -2),
      b.shape.slice(0, -2),
    );
    const batch = Math.max(batchA, batchB);
    if (util.sizeFromShape(outBatch) !== batch) return null;
    if (bias != null && !isRowBias(bias, n)) return null;
    if (batch * m * n === 0 || k === 0) return null;
    const out = alloc(backend, [...outBatch, m, n]);
    addon.matmul(
      f32(backend, a),
      f32(backend, b),
      bias == null ? null : f32(backend, bias),
      f32(backend, out),
      matmulParams({
        batch,
        m,
        n,
        k,
        transpose_a: attrs.transposeA,
        transpose_b: attrs.transposeB,
        batch_a: batchA,
        batch_b: batchB,
      }),
      act,
      attrs.leakyreluAlpha ?? 0,
    );
    return out;
  });
