import type { backend_util } from '@tensorflow/tfjs-core';

/**
 * The TypeScript half of the addon's contract: the same numbers as native/ks_abi.h, which is
 * their one home on the C++ side (test/node/native/abi.test.ts parses that header and checks
 * these constants against it). Change both together and bump the version when an argument
 * list changes: an addon built for another version is not loaded.
 */
export const ABI_VERSION = 1;

/** KsActivation: tfjs fused activation name -> code (prelu has none: the wasm kernel runs it). */
export const ACTIVATION = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 4,
  sigmoid: 5,
  elu: 6,
} as const satisfies Record<string, number>;

/** KsConvParam: the positions of the conv `params` Int32Array (KS_CONV_<NAME>). */
export const CONV_PARAMS = [
  'batch',
  'in_height',
  'in_width',
  'in_channels',
  'out_height',
  'out_width',
  'out_channels',
  'filter_height',
  'filter_width',
  'stride_height',
  'stride_width',
  'dilation_height',
  'dilation_width',
  'pad_top',
  'pad_left',
] as const;

/** KsMatmulParam: the positions of the matmul `params` Int32Array (KS_MATMUL_<NAME>). */
export const MATMUL_PARAMS = [
  'batch',
  'm',
  'n',
  'k',
  'transpose_a',
  'transpose_b',
  'batch_a',
  'batch_b',
] as const;

type ConvParamValues = Record<(typeof CONV_PARAMS)[number], number>;
type MatmulParamValues = Record<(typeof MATMUL_PARAMS)[number], number>;

/** The code of a tfjs fused activation, or undefined when the addon has none for it. */
export function activationCode(name: string | undefined): number | undefined {
  const key = name ?? 'linear';
  return Object.hasOwn(ACTIVATION, key) ? ACTIVATION[key as keyof typeof ACTIVATION] : undefined;
}

/** The conv `params` of a tfjs Conv2DInfo, in CONV_PARAMS order. */
export function convParams(info: backend_util.Conv2DInfo): Int32Array {
  const v: ConvParamValues = {
    batch: info.batchSize,
    in_height: info.inHeight,
    in_width: info.inWidth,
    in_channels: info.inChannels,
    out_height: info.outHeight,
    out_width: info.outWidth,
    out_channels: info.outChannels,
    filter_height: info.filterHeight,
    filter_width: info.filterWidth,
    stride_height: info.strideHeight,
    stride_width: info.strideWidth,
    dilation_height: info.dilationHeight,
    dilation_width: info.dilationWidth,
    pad_top: info.padInfo.top,
    pad_left: info.padInfo.left,
  };
  return Int32Array.from(CONV_PARAMS, (k) => v[k]);
}

/** The matmul `params`, in MATMUL_PARAMS order (booleans as 0/1). */
export function matmulParams(v: Record<keyof MatmulParamValues, number | boolean>): Int32Array {
  return Int32Array.from(MATMUL_PARAMS, (k) => Number(v[k]));
}
