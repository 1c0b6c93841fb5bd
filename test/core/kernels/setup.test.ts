import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerFastKernels } from '../../../src/core/kernels/index';
import { initWasmBackend, wasmThreads } from '../../../src/node/wasm-backend';
import { data, maxRelErr, on } from './helpers';

// Its own test file (own process): the threaded binary with 2 XNNPACK threads.
beforeAll(() => initWasmBackend({ threads: 2 }));

describe('backend set-up', () => {
  it('initWasmBackend({threads: 2}) runs the threaded binary with 2 threads', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmThreads()).toBe(2);
  });

  it('registerFastKernels is idempotent', async () => {
    const names = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Sum'];
    const before = names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc);
    registerFastKernels();
    registerFastKernels();
    await initWasmBackend({ threads: 2 }); // a second init is a no-op
    expect(names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc)).toEqual(before);
  });

  it('threaded gradients match cpu and are repeatable', async () => {
    const x = data(4 * 12 * 12 * 8, 31);
    const f = data(3 * 3 * 8 * 16, 32);
    const run = () => {
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
      return tf.grads(loss)([tf.tensor4d(x, [4, 12, 12, 8]), tf.tensor4d(f, [3, 3, 8, 16])]);
    };
    const cpu = await on('cpu', run);
    const a = await on('wasm', run);
    const b = await on('wasm', run);
    for (let i = 0; i < cpu.length; i++) {
      expect(maxRelErr(a[i]!, cpu[i]!)).toBeLessThan(1e-4);
      expect(Array.from(b[i]!)).toEqual(Array.from(a[i]!));
    }
  });
});
