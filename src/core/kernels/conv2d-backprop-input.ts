import { backend_util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import type { ConvAttrs, Shape4 } from './conv-attrs';
import { delegateTo } from './override';
import {
  alloc,
  conv2d,
  type FastKernelFunc,
  f32,
  free,
  type KernelInputs,
  type Wasm,
} from './wasm-util';

/**
 * Conv2DBackpropInput (also the forward pass of conv2dTranspose) through XNNPACK's Conv2D.
 *
 * dx[h] = sum_{oy*s + ky - pad = h} dy[oy] W[ky]. Output rows of one phase a = h mod s only
 * see the taps ky = r_a + s*m (r_a = (a + pad) mod s), so each of the s_h*s_w phases is a
 * stride-1 correlation of dy with a small flipped sub-kernel (channels swapped). The phase
 * results are interleaved into dx. Nothing is multiplied by inserted zeros.
 */
export function makeConv2DBackpropInput(original: KernelConfig | undefined): FastKernelFunc {
  const next = delegateTo(original, 'Conv2DBackpropInput');
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as KernelInputs & { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as ConvAttrs & {
      inputShape: Shape4;
    };
    const fallback = () => next({ inputs, backend, attrs });
    if (backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') return fallback();
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as Shape4,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    return inputGradient(backend, dy, filter, info) ?? fallback();
  };
}

interface Phase {
  /** First output row/col of this phase and the number of them. */
  start: number;
  size: number;
  /** Kernel taps of this phase: first tap and count (taps first, first + s, ...). */
  tap: number;
  taps: number;
  padBefore: number;
  padAfter: number;
}

function phases(
  inSize: number,
  outSize: number,
  k: number,
  s: number,
  padBefore: number,
): Phase[] | null {
  const res: Phase[] = [];
  for (let a = 0; a < s; a++) {
    const size = Math.ceil((inSize - a) / s);
    if (size <= 0) continue;
    const tap = (a + padBefore) % s;
    const taps = tap < k ? Math.ceil((k - tap) / s) : 0;
    const c = (a + padBefore - tap) / s;
    const before = taps - 1 - c;
    const after = size + c - outSize;
    if (taps > 0 && (before < 0 || after < 0)) return null;
    res.push({ start: a, size, tap, taps, padBefore: before, padAfter: after });
  }
  return res;
}

export function inputGradient(
  backend: Wasm,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | null {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const py = phases(h, oh, kh, sh, info.padInfo.top);
  const px = phases(w, ow, kw, sw, info.padInfo.left);
  if (py === null || px === null) return null;

  const single = sh === 1 && sw === 1;
  const dx = single ? null : alloc(backend, [n, h, w, ci]);
  if (dx !== null && (py.some((p) => p.taps === 0) || px.some((p) => p.taps === 0))) {
    f32(backend, dx).fill(0);
  }
  for (const fy of py) {
    for (const fx of px) {
      if (fy.taps === 0 || fx.taps === 0) continue;
      // Sub-kernel [taps_y, taps_x, co, ci]: flipped taps, in/out channels swapped.
      const sub = alloc(backend, [fy.taps, fx.taps, co, ci]);
      const ws = f32(backend, filter);
      const ss = f32(backend, sub);
      let o = 0;
      for (let my = 0; my < fy.taps; my++) {
        const ky = fy.tap + sh * (fy.taps - 1 - my);
        for (let mx = 0; mx < fx.taps; mx++) {
          const kx = fx.tap + sw * (fx.taps - 1 - mx);
          const base = (ky * kw + kx) * ci * co;
          for (let c2 = 0; c2 < co; c2++) {
            for (let c1 = 0; c1 < ci; c1++) ss[o++] = ws[base + c1 * co + c2] as number;
          }
        }
      }
      const part = conv2d(backend, dy, sub, [fy.padBefore, fy.padAfter, fx.padBefore, fx.padAfter]);
      free(backend, sub);
      if (dx === null) {
        part.shape = [n, h, w, ci];
        return part;
      }
      // Interleave: dx[b, fy.start + sh*i, fx.start + sw*j, :] = part[b, i, j, :].
      const ps = f32(backend, part);
      const ds = f32(backend, dx);
      let p = 0;
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < fy.size; i++) {
          let d = ((b * h + fy.start + sh * i) * w + fx.start) * ci;
          const step = sw * ci;
          if (ci === 1) {
            for (let j = 0; j < fx.size; j++) {
              ds[d] = ps[p++] as number;
              d += step;
            }
          } else {
            for (let j = 0; j < fx.size; j++) {
              for (let c = 0; c < ci; c++) ds[d + c] = ps[p++] as number;
              d += step;
            }
          }
        }
      }
      free(backend, part);
    }
  }
  if (dx === null) {
    // Stride 1 with no taps at all cannot happen (k >= 1); keep the type checker happy.
    return null;
  }
  return dx;
}
