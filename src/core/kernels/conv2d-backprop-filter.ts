import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { ConvAttrs, Shape4 } from './conv-attrs';
import {
  alloc,
  conv2d,
  type FastKernelFunc,
  f32,
  free,
  gemm,
  type KernelInputs,
  run,
  type Wasm,
} from './wasm-util';

/**
 * Conv2DBackpropFilter (missing on stock wasm), two ways, both on XNNPACK:
 *  - as one convolution with the batch as the reduction axis: input x^T [Ci, H, W, N],
 *    filter dy^T [OH, OW, N, Co], dilation = the forward stride, output [Ci, KH, KW, Co]
 *    (then [KH, KW, Ci, Co]). XNNPACK's indirection buffer avoids any im2col copy;
 *  - for few filter rows (KH*KW*Ci small, e.g. a 1-channel first layer, where that convolution
 *    has only KH*KW output pixels per image and tiles badly): dW = P^T . dy with the transposed
 *    im2col P^T [KH*KW*Ci, N*OH*OW] built in JS and one GEMM.
 */
export const conv2DBackpropFilter: FastKernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as KernelInputs & { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as ConvAttrs & {
    filterShape: Shape4;
  };
  if (backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') {
    throw new Error("fast Conv2DBackpropFilter supports dataFormat 'NHWC' only");
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  return filterGradient(backend, x, dy, info);
};

/** Below this many filter rows (KH*KW*Ci) the im2col + GEMM path is faster. */
const IM2COL_MAX_ROWS = 32;

export function filterGradient(
  backend: Wasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  // Padding after, so that the big-kernel convolution yields exactly KH x KW outputs.
  const pb = kh - 1 + (oh - 1) * sh + 1 - h - pt;
  const pr = kw - 1 + (ow - 1) * sw + 1 - w - pl;
  const dilated = info.dilationHeight === 1 && info.dilationWidth === 1;
  if (kh * kw * ci <= IM2COL_MAX_ROWS || pb < 0 || pr < 0 || !dilated) {
    return im2colGradient(backend, x, dy, info);
  }
  const xt = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] });
  const dyt = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const out = conv2d(backend, xt, dyt, [pt, pb, pl, pr], [sh, sw]);
  free(backend, xt);
  free(backend, dyt);
  const res = run('Transpose', backend, { x: out }, { perm: [1, 2, 0, 3] });
  free(backend, out);
  return res;
}

export function im2colGradient(
  backend: Wasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const rows = kh * kw * ci;
  const cols = n * oh * ow;
  const pT = alloc(backend, [rows, cols]);
  const xs = f32(backend, x);
  const ps = f32(backend, pT);
  const rowStrideX = w * ci;
  const imgStrideX = h * rowStrideX;
  for (let fy = 0; fy < kh; fy++) {
    const offY = fy * dh - pt;
    // Output rows whose input row is inside the image: oy in [oy0, oy1).
    const oy0 = Math.max(0, Math.ceil(-offY / sh));
    const oy1 = Math.min(oh, Math.floor((h - 1 - offY) / sh) + 1);
    for (let fx = 0; fx < kw; fx++) {
      const offX = fx * dw - pl;
      const ox0 = Math.max(0, Math.ceil(-offX / sw));
      const ox1 = Math.min(ow, Math.floor((w - 1 - offX) / sw) + 1);
      for (let c = 0; c < ci; c++) {
        let o = ((fy * kw + fx) * ci + c) * cols;
        for (let b = 0; b < n; b++) {
          const xImg = b * imgStrideX + c;
          for (let oy = 0; oy < oh; oy++) {
            if (oy < oy0 || oy >= oy1 || ox1 <= ox0) {
              ps.fill(0, o, o + ow);
              o += ow;
              continue;
            }
            const xRow = xImg + (oy * sh + offY) * rowStrideX;
            let ox = 0;
            for (; ox < ox0; ox++) ps[o++] = 0;
            let xi = xRow + (ox0 * sw + offX) * ci;
            const step = sw * ci;
            for (; ox < ox1; ox++) {
              ps[o++] = xs[xi] as number;
              xi += step;
            }
            for (; ox < ow; ox++) ps[o++] = 0;
          }
        }
      }
    }
  }
  const out = gemm(backend, pT, dy, rows, cols, co);
  free(backend, pT);
  out.shape = [kh, kw, ci, co];
  return out;
}
