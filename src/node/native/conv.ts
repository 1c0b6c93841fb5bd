import { backend_util, type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import {
  alloc,
  delegateTo,
  type FastKernelFunc,
  f32,
  type KernelInputs,
  portableKernelsOnly,
} from '../../core/kernels/index';
import { activationCode, convParams } from './abi';
import type { NativeAddon } from './addon';
import { allFloat32, type ConvAttrs, isRowBias, nhwc, type Shape4 } from './guards';

/** The three native convolutions: float32 NHWC; anything else goes to the next kernel. */

/** Conv2D and FusedConv2D (bias + activation in the same pass; PReLU goes to the next kernel). */
export function makeConv2D(addon: NativeAddon, next: KernelConfig | undefined): FastKernelFunc {
  const fallback = delegateTo(next, 'Conv2D');
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as ConvAttrs;
    const { x, filter, bias, preluActivationWeights } = inputs as KernelInputs & {
      x: TensorInfo;
      filter: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const act = activationCode(attrs.activation);
    if (
      portableKernelsOnly() ||
      act === undefined ||
      preluActivationWeights != null ||
      !nhwc(attrs) ||
      !allFloat32(x, filter) ||
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

export function makeBackpropFilter(
  addon: NativeAddon,
  next: KernelConfig | undefined,
): FastKernelFunc {
  const fallback = delegateTo(next, 'Conv2DBackpropFilter');
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as ConvAttrs & { filterShape: Shape4 };
    const { x, dy } = inputs as KernelInputs & { x: TensorInfo; dy: TensorInfo };
    if (portableKernelsOnly() || !nhwc(attrs) || !allFloat32(x, dy)) return fallback(args);
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

export function makeBackpropInput(
  addon: NativeAddon,
  next: KernelConfig | undefined,
): FastKernelFunc {
  const fallback = delegateTo(next, 'Conv2DBackpropInput');
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as ConvAttrs & { inputShape: Shape4 };
    const { dy, filter } = inputs as KernelInputs & { dy: TensorInfo; filter: TensorInfo };
    if (portableKernelsOnly() || !nhwc(attrs) || !allFloat32(dy, filter)) return fallback(args);
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
