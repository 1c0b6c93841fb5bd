import type { backend_util, NamedAttrMap } from '@tensorflow/tfjs-core';

export type Shape4 = [number, number, number, number];

/**
 * The attrs of tfjs' convolution kernels (Conv2D, FusedConv2D and the two backprops, which add
 * `filterShape` or `inputShape`), for the fast and the native kernels that replace them.
 */
export type ConvAttrs = NamedAttrMap & {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
};
