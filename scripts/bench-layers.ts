/**
 * npm run bench:layers   CPU per candidate sample (decode + classify) for each named layer size.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { forward } from '../src/core/forward';
import { buildClassifier, buildDecoder, LAYER_SIZES, LAYER_SIZES_NAMES } from '../src/core/models';
import { defineCli, flag, runMain } from '../src/node/cli';
import { initWasmBackend } from '../src/node/wasm-backend';

const cli = defineCli({
  usage: 'npm run bench:layers [-- --rounds N]',
  about: `What one candidate sample costs the packet sampler with each named layer size
(${LAYER_SIZES_NAMES.join(', ')}; \`npm run train -- --layers NAME\`): decode a batch of 128 latent
codes and classify the images, on the portable wasm kernels every endpoint runs (one thread,
MNIST-sized images, 5 classes, seeded untrained weights: the cost does not depend on the
weights). Process CPU ms per batch, the minimum over the rounds, so the figure barely depends
on the load of a shared machine. Prints a markdown table, then one JSON line.`,
  flags: {
    rounds: flag(z.coerce.number().int().min(1).max(100), {
      value: 'N',
      default: 10,
      help: 'timed rounds per layer size (after 3 warm-up rounds)',
    }),
  },
});

const BATCH = 128;
const LATENT = 32;
const IMAGE_SHAPE: [number, number, number] = [28, 28, 1];

/**
 * 2 x the multiply-adds of the convolutions and dense layers of a model, per image. A conv
 * does kh x kw x cin x cout of them per output pixel; a transposed conv per input pixel.
 */
function flopsPerImage(model: tfl.LayersModel): number {
  let flops = 0;
  for (const l of model.layers) {
    const kernel = l.getWeights()[0];
    if (!kernel) continue;
    const size = kernel.shape.reduce((p, d) => p * d, 1);
    if (kernel.rank === 2) flops += 2 * size;
    if (kernel.rank !== 4) continue;
    const at = l.getClassName() === 'Conv2DTranspose' ? l.input : l.output;
    const shape = (at as tfl.SymbolicTensor).shape;
    flops += 2 * shape[1]! * shape[2]! * size;
  }
  return flops;
}

runMain(async () => {
  const o = cli.parse(process.argv.slice(2));
  await initWasmBackend({ threads: 1, native: false });
  console.log(`wasm kernels, 1 thread, batch ${BATCH}, min of ${o.rounds} rounds`);
  console.log(
    '| layer sizes | classifier filters | decoder filters | MFLOP / candidate | CPU ms / batch | candidates/s |',
  );
  console.log('|---|---|---|---:|---:|---:|');
  const rows = [];
  for (const name of LAYER_SIZES_NAMES) {
    const a = LAYER_SIZES[name];
    const { model: classifier } = buildClassifier({
      imageShape: IMAGE_SHAPE,
      numClasses: 5,
      filters: a.classifierFilters,
      denseUnits: a.denseUnits,
      seed: 1,
    });
    const decoder = buildDecoder({
      imageShape: IMAGE_SHAPE,
      latentSize: LATENT,
      filters: a.decoderFilters,
      upsampling: a.upsampling,
      seed: 2,
    });
    const z = tf.randomNormal([BATCH, LATENT], 0, 1, 'float32', 3);
    const once = () => {
      const probs = tf.tidy(() => forward(classifier, forward(decoder, z)));
      probs.dataSync();
      probs.dispose();
    };
    for (let i = 0; i < 3; i++) once();
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < o.rounds; i++) {
      const c0 = process.cpuUsage();
      once();
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1000);
    }
    const mflop = (flopsPerImage(decoder) + flopsPerImage(classifier)) / 1e6;
    const perSecond = (BATCH * 1000) / best;
    console.log(
      `| ${name} | ${a.classifierFilters.join(', ')} | ${a.decoderFilters.slice(0, 3).join(', ')} | ${mflop.toFixed(1)} | ${best.toFixed(1)} | ${perSecond.toFixed(0)} |`,
    );
    rows.push({
      layers: name,
      mflopPerCandidate: mflop,
      cpuMsPerBatch: best,
      candidatesPerSecond: perSecond,
    });
    tf.dispose(z);
    classifier.dispose();
    decoder.dispose();
  }
  console.log(JSON.stringify({ bench: 'layers', batch: BATCH, kernels: 'wasm', rows }));
});
