import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  kernelLayers,
  overrideKernel,
  registerFastKernels,
  removeOverride,
} from '../../../src/core/kernels/index';
import { setup } from './helpers';

/** The one override helper every patch layer (fast, native) registers through. */
beforeAll(setup);

// A kernel nobody else patches: Neg. Each layer adds a known offset, so the chain is visible.
const neg = () => tf.tidy(() => Array.from(tf.neg(tf.tensor1d([1, 2])).dataSync()));
const plus = (delta: number) => (next: tf.KernelConfig | undefined) => {
  const k = next!;
  return ((args: Parameters<tf.KernelFunc>[0]) => {
    const out = k.kernelFunc(args) as tf.TensorInfo;
    const id = tf.engine().makeTensorFromTensorInfo(out);
    const shifted = tf.add(id, delta);
    const info = { ...shifted } as tf.TensorInfo;
    tf.engine().incRef(shifted, tf.getBackend() as never);
    id.dispose();
    return info;
  }) as never;
};

afterEach(() => {
  while (removeOverride('Neg', 'native') || removeOverride('Neg', 'fast'));
});

describe('overrideKernel / removeOverride', () => {
  it('wraps the registered kernel, once per layer, and unwraps the outermost layer', () => {
    expect(neg()).toEqual([-1, -2]);
    expect(kernelLayers('Neg')).toEqual([]);
    expect(overrideKernel('Neg', plus(10), 'fast')).toBe(true);
    expect(overrideKernel('Neg', plus(10), 'fast')).toBe(false); // idempotent
    expect(neg()).toEqual([9, 8]);
    expect(overrideKernel('Neg', plus(100), 'native')).toBe(true);
    expect(kernelLayers('Neg')).toEqual(['native', 'fast']);
    expect(neg()).toEqual([109, 108]);
    // A layer already in the chain is not added again, even under another one.
    expect(overrideKernel('Neg', plus(10), 'fast')).toBe(false);
    expect(removeOverride('Neg', 'fast')).toBe(false); // not the outermost
    expect(removeOverride('Neg', 'native')).toBe(true);
    expect(neg()).toEqual([9, 8]);
    expect(removeOverride('Neg', 'fast')).toBe(true);
    expect(kernelLayers('Neg')).toEqual([]);
    expect(neg()).toEqual([-1, -2]);
  });

  it('registerFastKernels marks its kernels as the fast layer', () => {
    registerFastKernels();
    for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Sum']) {
      expect(kernelLayers(name), name).toContain('fast');
    }
  });
});
