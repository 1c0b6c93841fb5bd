import { backend_util, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';

/** Checks the native kernels share to decide whether a call is theirs or the next kernel's. */

export type Shape4 = [number, number, number, number];

export type ConvAttrs = NamedAttrMap & {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
};

/** A float32 bias of `n` values along the last axis ([n], [1, n], ...). */
export const isRowBias = (bias: TensorInfo, n: number): boolean =>
  bias.dtype === 'float32' &&
  util.sizeFromShape(bias.shape) === n &&
  (bias.shape.length === 0 ? n === 1 : bias.shape[bias.shape.length - 1] === n);

export const nhwc = (a: ConvAttrs): boolean =>
  a.dataFormat === undefined ||
  backend_util.convertConv2DDataFormat(a.dataFormat) === 'channelsLast';

export const allFloat32 = (...ts: TensorInfo[]): boolean => ts.every((t) => t.dtype === 'float32');
