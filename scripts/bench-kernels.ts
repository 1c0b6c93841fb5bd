import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { defineCli, runMain, switchFlag } from '../src/node/cli';
import { nativeKernelsActive } from '../src/node/native/index';
import { initWasmBackend } from '../src/node/wasm-backend';

const cli = defineCli({
  usage: 'npm run bench:kernels [-- --wasm]',
  about: `Per-layer conv kernel cost on the reference nets' shapes (batch 64): forward, filter
gradient, input gradient, in process CPU milliseconds (best of 5, one thread), so the numbers
barely depend on the load of the shared machine. Prints a markdown table, then one JSON line.`,
  flags: {
    wasm: switchFlag('the wasm kernels (default: the native ones when the addon is built)'),
  },
});

type Layer = [string, [number, number, number, number], [number, number, number, number], number];
const layers: Layer[] = [
  ['conv 28x28x1 -> 32, s1', [64, 28, 28, 1], [3, 3, 1, 32], 1],
  ['conv 28x28x32 -> 32, s2', [64, 28, 28, 32], [3, 3, 32, 32], 2],
  ['conv 14x14x32 -> 64, s1', [64, 14, 14, 32], [3, 3, 32, 64], 1],
  ['conv 14x14x64 -> 64, s2', [64, 14, 14, 64], [3, 3, 64, 64], 2],
  ['conv 28x28x32 -> 32, s1', [64, 28, 28, 32], [3, 3, 32, 32], 1],
];

function cpuMs(f: () => tf.Tensor): number {
  for (let i = 0; i < 2; i++) f().dispose();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const c0 = process.cpuUsage();
    const t = f();
    const c = process.cpuUsage(c0);
    t.dispose();
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return best;
}

runMain(async () => {
  const o = cli.parse(process.argv.slice(2));
  await initWasmBackend({ threads: 1, native: !o.wasm, nativeThreads: 1 });
  console.log(nativeKernelsActive() ? 'native kernels, 1 thread' : 'wasm kernels, 1 thread');
  console.log('| layer (batch 64) | forward | filter gradient | input gradient |');
  console.log('|---|---:|---:|---:|');
  const results: {
    layer: string;
    forward_ms: number;
    filter_grad_ms: number;
    input_grad_ms: number;
  }[] = [];
  for (const [name, xs, fs, s] of layers) {
    const x = tf.randomNormal(xs) as tf.Tensor4D;
    const f = tf.randomNormal(fs) as tf.Tensor4D;
    const y = tf.conv2d(x, f, s, 'same');
    const flops = 2 * y.size * fs[0] * fs[1] * fs[2];
    const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC' };
    const fwd = cpuMs(() => tf.conv2d(x, f, s, 'same'));
    const dw = cpuMs(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x, dy: y },
            { ...attrs, filterShape: fs },
          ) as tf.Tensor,
    );
    const dx = cpuMs(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy: y, filter: f },
            { ...attrs, inputShape: xs },
          ) as tf.Tensor,
    );
    const cell = (ms: number) => `${ms.toFixed(1)} ms (${(flops / ms / 1e6).toFixed(0)} GFLOP/s)`;
    console.log(`| ${name} | ${cell(fwd)} | ${cell(dw)} | ${cell(dx)} |`);
    results.push({ layer: name, forward_ms: fwd, filter_grad_ms: dw, input_grad_ms: dx });
    tf.dispose([x, f, y]);
  }
  console.log(JSON.stringify({ kernels: nativeKernelsActive() ? 'native' : 'wasm', results }));
});
