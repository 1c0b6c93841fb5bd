import * as tfl from '@tensorflow/tfjs-layers';
import type { ArchitectureInfo, ImageShape } from './manifest';

/**
 * Pure model factories. Every builder takes its options and returns fresh layers; nothing
 * here holds state between calls. Layer names are part of the contract: the perceptual loss
 * reads the classifier's `conv1` and `conv2` activations, and exported artifacts keep them.
 */

/**
 * The project's default sizes: the reference layout (the 'ref' nets of scripts/bench-train.ts)
 * with about half the filters, which cuts training FLOPs 2-3x on MNIST-sized images at no
 * measured accuracy cost (docs/BENCHMARKS.md). The decoder's last filter count is unused (its output has C channels).
 */
export const DEFAULT_ARCHITECTURE: ArchitectureInfo = {
  classifierFilters: [16, 32, 32, 32],
  encoderFilters: [16, 32, 32, 32],
  decoderFilters: [32, 32, 16, 16],
  denseUnits: 128,
  upsampling: 'transpose',
};

/**
 * Lean layer sizes for edge endpoints: a candidate sample (decode + classify) costs ~2x less
 * CPU than with DEFAULT_ARCHITECTURE (the 28x28 decoder convs and the classifier's first two
 * convs carry half the filters). The merged network kept its accuracy on MNIST and lost ~1
 * point on Fashion-MNIST (one repeat each; docs/RESULTS.md, "Lean layer sizes").
 * The demo networks in models/ use it (`npm run train -- --layers edge`).
 */
export const EDGE_ARCHITECTURE: ArchitectureInfo = {
  classifierFilters: [8, 16, 32, 32],
  encoderFilters: [16, 32, 32, 32],
  decoderFilters: [32, 16, 8, 8],
  denseUnits: 128,
  upsampling: 'transpose',
};

/** Named layer sizes, as `npm run train -- --layers NAME` takes them. */
export const LAYER_SIZES = { default: DEFAULT_ARCHITECTURE, edge: EDGE_ARCHITECTURE } as const;
export type LayerSizesName = keyof typeof LAYER_SIZES;
export const LAYER_SIZES_NAMES = Object.keys(LAYER_SIZES) as [LayerSizesName, ...LayerSizesName[]];

export const CLASSIFIER_CONV_NAMES = ['conv1', 'conv2', 'conv3', 'conv4'] as const;
/** Classifier layers whose activations the perceptual loss compares (the paper: conv 1 and 2). */
export const PERCEPTUAL_LAYERS = ['conv1', 'conv2'] as const;

export interface ClassifierOptions {
  imageShape: ImageShape;
  numClasses: number;
  filters?: readonly number[];
  denseUnits?: number;
  seed?: number;
}

/** Classifier strides: conv1 s1, conv2 s2, conv3 s1, conv4 s2 (all 3x3 'same', ReLU). */
const CLASSIFIER_STRIDES = [1, 2, 1, 2] as const;
/** Encoder strides (separate architecture): s2, s2, s1, s1. */
const ENCODER_STRIDES = [2, 2, 1, 1] as const;

function init(seed: number | undefined, offset: number) {
  return seed === undefined
    ? 'glorotUniform'
    : tfl.initializers.glorotUniform({ seed: seed + offset });
}

function convStack(
  filters: readonly number[],
  strides: readonly number[],
  prefix: string,
  seed: number | undefined,
): tfl.layers.Layer[] {
  return filters.map((f, i) =>
    tfl.layers.conv2d({
      name: `${prefix}${i + 1}`,
      filters: f,
      kernelSize: 3,
      strides: strides[i] ?? 1,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(seed, i),
    }),
  );
}

function applyAll(x: tfl.SymbolicTensor, layers: tfl.layers.Layer[]): tfl.SymbolicTensor {
  return layers.reduce((t, l) => l.apply(t) as tfl.SymbolicTensor, x);
}

type DenseArgs = Parameters<typeof tfl.layers.dense>[0];

/** A new dense layer `name` of `units` units, applied to `x`. */
function dense(
  x: tfl.SymbolicTensor,
  name: string,
  units: number,
  args: Omit<DenseArgs, 'name' | 'units'>,
): tfl.SymbolicTensor {
  return tfl.layers.dense({ name, units, ...args }).apply(x) as tfl.SymbolicTensor;
}

export interface Classifier {
  model: tfl.LayersModel;
  /** The four conv layers, in order; the combined architecture shares them with the encoder. */
  convLayers: tfl.layers.Layer[];
}

export function buildClassifier(opts: ClassifierOptions): Classifier {
  const filters = opts.filters ?? DEFAULT_ARCHITECTURE.classifierFilters;
  const input = tfl.input({ shape: [...opts.imageShape], name: 'image' });
  const convLayers = convStack(filters, CLASSIFIER_STRIDES, 'conv', opts.seed);
  let x = applyAll(input, convLayers);
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = dense(x, 'dense', opts.denseUnits ?? DEFAULT_ARCHITECTURE.denseUnits, {
    activation: 'relu',
    kernelInitializer: init(opts.seed, 10),
  });
  const probs = dense(x, 'probs', opts.numClasses, {
    activation: 'softmax',
    kernelInitializer: init(opts.seed, 11),
  });
  return { model: tfl.model({ inputs: input, outputs: probs, name: 'classifier' }), convLayers };
}

/** A model mapping an image to the activations of the named classifier conv layers. */
export function buildFeatureExtractor(
  classifier: tfl.LayersModel,
  layerNames: readonly string[] = PERCEPTUAL_LAYERS,
): tfl.LayersModel {
  // Node 0 is the layer's use inside the classifier; a shared (combined) layer has more.
  const outputs = layerNames.map(
    (n) => classifier.getLayer(n).getOutputAt(0) as tfl.SymbolicTensor,
  );
  return tfl.model({ inputs: classifier.inputs, outputs, name: 'features' });
}

export interface EncoderOptions {
  imageShape: ImageShape;
  latentSize: number;
  filters?: readonly number[];
  /** Combined architecture: reuse these (classifier) conv layers instead of new ones. */
  sharedConvLayers?: tfl.layers.Layer[];
  seed?: number;
}

/** Encoder: image -> [zMean, zLogVar]. */
export function buildEncoder(opts: EncoderOptions): tfl.LayersModel {
  const input = tfl.input({ shape: [...opts.imageShape], name: 'image' });
  const convLayers =
    opts.sharedConvLayers ??
    convStack(
      opts.filters ?? DEFAULT_ARCHITECTURE.encoderFilters,
      ENCODER_STRIDES,
      'enc_conv',
      opts.seed,
    );
  let x = applyAll(input, convLayers);
  x = tfl.layers.flatten({ name: 'enc_flatten' }).apply(x) as tfl.SymbolicTensor;
  const zMean = dense(x, 'z_mean', opts.latentSize, { kernelInitializer: init(opts.seed, 20) });
  const zLogVar = dense(x, 'z_log_var', opts.latentSize, {
    kernelInitializer: 'zeros',
    biasInitializer: 'zeros',
  });
  return tfl.model({ inputs: input, outputs: [zMean, zLogVar], name: 'encoder' });
}

export interface DecoderOptions {
  imageShape: ImageShape;
  latentSize: number;
  filters?: readonly number[];
  upsampling?: ArchitectureInfo['upsampling'];
  seed?: number;
}

/**
 * Decoder: z -> image in [0, 1]. Dense to a (H/4, W/4) map, two x2 upsampling convs, two
 * stride-1 convs (the last one sigmoid, C channels); a crop when H or W is not a multiple of 4.
 */
export function buildDecoder(opts: DecoderOptions): tfl.LayersModel {
  const [h, w, c] = opts.imageShape;
  const [f1, f2, f3] = opts.filters ?? DEFAULT_ARCHITECTURE.decoderFilters;
  const upsampling = opts.upsampling ?? DEFAULT_ARCHITECTURE.upsampling;
  const h4 = Math.ceil(h / 4);
  const w4 = Math.ceil(w / 4);
  const z = tfl.input({ shape: [opts.latentSize], name: 'z' });
  let x = dense(z, 'dec_dense', h4 * w4 * f1!, {
    activation: 'relu',
    kernelInitializer: init(opts.seed, 30),
  });
  x = tfl.layers
    .reshape({ name: 'dec_reshape', targetShape: [h4, w4, f1!] })
    .apply(x) as tfl.SymbolicTensor;
  const up = (t: tfl.SymbolicTensor, filters: number, i: number): tfl.SymbolicTensor => {
    if (upsampling === 'transpose') {
      return tfl.layers
        .conv2dTranspose({
          name: `dec_up${i}`,
          filters,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: init(opts.seed, 30 + i),
        })
        .apply(t) as tfl.SymbolicTensor;
    }
    const u = tfl.layers
      .upSampling2d({ name: `dec_resize${i}`, size: [2, 2] })
      .apply(t) as tfl.SymbolicTensor;
    return tfl.layers
      .conv2d({
        name: `dec_up${i}`,
        filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(opts.seed, 30 + i),
      })
      .apply(u) as tfl.SymbolicTensor;
  };
  x = up(x, f1!, 1);
  x = up(x, f2!, 2);
  x = tfl.layers
    .conv2d({
      name: 'dec_conv3',
      filters: f3!,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(opts.seed, 33),
    })
    .apply(x) as tfl.SymbolicTensor;
  x = tfl.layers
    .conv2d({
      name: 'dec_out',
      filters: c,
      kernelSize: 3,
      padding: 'same',
      activation: 'sigmoid',
      kernelInitializer: init(opts.seed, 34),
    })
    .apply(x) as tfl.SymbolicTensor;
  if (h4 * 4 !== h || w4 * 4 !== w) {
    x = tfl.layers
      .cropping2D({
        name: 'dec_crop',
        cropping: [
          [0, h4 * 4 - h],
          [0, w4 * 4 - w],
        ],
      })
      .apply(x) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: z, outputs: x, name: 'decoder' });
}

/**
 * Free the weights of models that may share layers (the combined architecture, feature
 * extractors), each variable once. `LayersModel.dispose()` counts layer uses and would
 * free a shared layer while another model still holds it.
 */
export function disposeModels(...models: (tfl.LayersModel | undefined)[]): void {
  const seen = new Set<number>();
  for (const m of models) {
    for (const w of m?.weights ?? []) {
      if (seen.has(w.id)) continue;
      seen.add(w.id);
      w.dispose();
    }
  }
}
