import '@tensorflow/tfjs-backend-wasm';
import { makeBatchMatMul } from './batch-matmul';
import { conv2DBackpropFilter } from './conv2d-backprop-filter';
import { makeConv2DBackpropInput } from './conv2d-backprop-input';
import { overrideKernel } from './override';
import { makeSum } from './sum';

export type { ConvAttrs, Shape4 } from './conv-attrs';
export {
  delegateTo,
  type KernelLayer,
  kernelLayers,
  overrideKernel,
  portableKernels,
  portableKernelsOnly,
  removeOverride,
} from './override';
export { type LeadingAxesSum, sumOverLeadingAxes } from './sum';
export { alloc, type FastKernelFunc, f32, type KernelInputs } from './wasm-util';

/**
 * Registers the fast training kernels for the 'wasm' backend (runtime-neutral: Node and the
 * Worker) as the 'fast' layer (./override.ts). Safe to call any number of times, before or after
 * `setBackend('wasm')`. Each fast kernel closes over the stock kernel it replaces, for the
 * cases it hands back.
 */
export function registerFastKernels(): void {
  overrideKernel('Conv2DBackpropFilter', () => conv2DBackpropFilter);
  overrideKernel('Conv2DBackpropInput', makeConv2DBackpropInput);
  overrideKernel('BatchMatMul', makeBatchMatMul);
  overrideKernel('Sum', makeSum);
}
