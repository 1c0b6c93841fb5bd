import { backend_util, type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import {
  type ConvAttrs,
  delegateTo,
  type FastKernelFunc,
  portableKernelsOnly,
} from '../../core/kernels/index';
import type { NativeAddon } from './addon';

/** What the native kernels share to decide whether a call is theirs or the next kernel's. */

/** Builds one native kernel over the kernel it wraps (`next`). */
export type NativeKernelMaker = (
  addon: NativeAddon,
  next: KernelConfig | undefined,
) => FastKernelFunc;

/**
 * A kernel that runs `run`, or hands the call to the next kernel when `run` returns null (a
 * case it does not handle) or inside `portableKernels()` (its last bits differ from XNNPACK's).
 */
export function nativeKernel(
  next: KernelConfig | undefined,
  name: string,
  run: (args: Parameters<FastKernelFunc>[0]) => TensorInfo | null,
): FastKernelFunc {
  const fallback = delegateTo(next, name);
  return (args) => (portableKernelsOnly() ? null : run(args)) ?? fallback(args);
}

/** A float32 bias of `n` values along the last axis ([n], [1, n], ...). */
export const isRowBias = (bias: TensorInfo, n: number): boolean =>
  bias.dtype === 'float32' &&
  util.sizeFromShape(bias.shape) === n &&
  (bias.shape.length === 0 ? n === 1 : bias.shape[bias.shape.length - 1] === n);

export const nhwc = (a: ConvAttrs): boolean =>
  a.dataFormat === undefined ||
  backend_util.convertConv2DDataFormat(a.dataFormat) === 'channelsLast';

export const allFloat32 = (...ts: TensorInfo[]): boolean => ts.every((t) => t.dtype === 'float32');
