import { backend_util, type TensorInfo, util } from '@tensorflow/tfjs-core';
import {
  alloc,
  type ConvAttrs,
  f32,
  type KernelInputs,
  type Shape4,
} from '../../core/kernels/index';
import { activationCode, convParams } from './abi';
import { allFloat32, isRowBias, type NativeKernelMaker, nativeKernel, nhwc } from './guards';

/** The three native convolutions: float32 NHWC; anything else goes to the next kernel. */

/** Conv2D and FusedConv2D (bias + activation in the same pass; PReLU goes to the next kernel). */
export const makeConv2D: NativeKernelMaker = (addon, next) =>
  nativeKernel(next, 'Conv2D', ({ inputs, backend, attrs: named }) => {
    const attrs = named as ConvAttrs;
    const { x, filter, bias, preluActivationWeights } = inputs as KernelInputs & {
      x: TensorInfo;
      filter: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const act = activationCode(attrs.activation);
    if (
      act === undefined ||
      preluActivationWeights != null ||
      !nhwc(attrs) ||
      !allFloat32(x, filter) ||
      x.shape.length !== 4 ||
      filter.shape.length !== 4
    ) {
      return null;
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filter.shape as Shape4,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    if (bias != null && !isRowBias(bias, info.outChannels)) return null;
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
  });

/** The forward convolution of a backprop call, or null when dy does not have its output shape. */
function forwardInfo(
  xShape: Shape4,
  filterShape: Shape4,
  attrs: ConvAttrs,
  dy: TensorInfo,
): backend_util.Conv2DInfo | null {
  const { strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  return util.arraysEqual(dy.shape, info.outShape) ? info : null;
}

export const makeBackpropFilter: NativeKernelMaker = (addon, next) =>
  nativeKernel(next, 'Conv2DBackpropFilter', ({ inputs, backend, attrs: named }) => {
    const attrs = named as ConvAttrs & { filterShape: Shape4 };
    const { x, dy } = inputs as KernelInputs & { x: TensorInfo; dy: TensorInfo };
    if (!nhwc(attrs) || !allFloat32(x, dy)) return null;
    const info = forwardInfo(x.shape as Shape4, attrs.filterShape, attrs, dy);
    if (info === null) return null;
    const out = alloc(backend, attrs.filterShape);
    addon.conv2dBackpropFilter(
      f32(backend, x),
      f32(backend, dy),
      f32(backend, out),
      convParams(info),
    );
    return out;
  });

export const makeBackpropInput: NativeKernelMaker = (addon, next) =>
  nativeKernel(next, 'Conv2DBackpropInput', ({ inputs, backend, attrs: named }) => {
    const attrs = named as ConvAttrs & { inputShape: Shape4 };
    const { dy, filter } = inputs as KernelInputs & { dy: TensorInfo; filter: TensorInfo };
    if (!nhwc(attrs) || !allFloat32(dy, filter)) return null;
    const info = forwardInfo(attrs.inputShape, filter.shape as Shape4, attrs, dy);
    if (info === null) return null;
    const out = alloc(backend, attrs.inputShape);
    addon.conv2dBackpropInput(
      f32(backend, dy),
      f32(backend, filter),
      f32(backend, out),
      convParams(info),
    );
    return out;
  });
