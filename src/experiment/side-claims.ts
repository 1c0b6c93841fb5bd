import * as tf from '@tensorflow/tfjs-core';
import { ensemblePredictor, evaluate, modelPredictor } from '../client';
import { buildClassifier, buildDecoder, buildEncoder } from '../core/models';
import type { Dataset } from '../data/idx';
import { nativeInfo, nativeKernelsActive } from '../node/native-kernels';
import type { ExperimentConfig } from './config';

function limitTest(ds: Dataset, limit: number): Dataset {
  return limit >= ds.count ? ds : { ...ds, count: limit };
}

/**
 * The paper's side claims for a config's architecture, measured without training (neither
 * parameter counts nor inference time depend on the weights' values):
 *  - memory: parameters of classifier + VAE (encoder + decoder) vs the classifier alone, for
 *    the separate architecture and for the combined one (whose encoder reuses the
 *    classifier's convs), and for what an endpoint actually serves (classifier + decoder);
 *  - inference: an ensemble of `networks` classifiers (each over its share of the classes)
 *    vs one merged classifier over all classes, timed on the same test images (median of 3).
 */
export async function measureArchitectureClaims(
  config: ExperimentConfig,
  test: Dataset,
  numClasses = 10,
): Promise<Record<string, unknown>> {
  const imageShape = test.imageShape;
  const arch = config.train.architecture;
  const per = Math.ceil(numClasses / config.networks);
  const classifier = buildClassifier({
    imageShape,
    numClasses: per,
    filters: arch.classifierFilters,
    denseUnits: arch.denseUnits,
    seed: 1,
  });
  const classifierParams = classifier.model.countParams();
  const encoder = buildEncoder({
    imageShape,
    latentSize: config.train.latentSize,
    filters: arch.encoderFilters,
    seed: 1,
  });
  const encoderParams = encoder.countParams();
  encoder.dispose();
  const convParams = classifier.convLayers.reduce((a, l) => a + l.countParams(), 0);
  const shared = buildEncoder({
    imageShape,
    latentSize: config.train.latentSize,
    sharedConvLayers: classifier.convLayers,
    seed: 1,
  });
  const combinedEncoderHeadParams = shared.countParams() - convParams;
  const decoder = buildDecoder({
    imageShape,
    latentSize: config.train.latentSize,
    filters: arch.decoderFilters,
    upsampling: arch.upsampling,
    seed: 1,
  });
  const decoderParams = decoder.countParams();
  decoder.dispose();
  classifier.model.dispose();
  // inference: N members vs one merged classifier
  const members = Array.from({ length: config.networks }, (_, i) => {
    const classes = Array.from({ length: per }, (_, j) => i * per + j).filter(
      (c) => c < numClasses,
    );
    return {
      model: buildClassifier({
        imageShape,
        numClasses: classes.length,
        filters: arch.classifierFilters,
        denseUnits: arch.denseUnits,
        seed: i + 2,
      }).model,
      classes,
    };
  });
  const all = Array.from({ length: numClasses }, (_, c) => c);
  const merged = buildClassifier({
    imageShape,
    numClasses,
    filters: arch.classifierFilters,
    denseUnits: arch.denseUnits,
    seed: 9,
  }).model;
  const ens = ensemblePredictor(members);
  const one = modelPredictor(merged, all);
  await evaluate(ens, limitTest(test, 500));
  await evaluate(one, limitTest(test, 500));
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ensembleTimes: number[] = [];
  const mergedTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    ensembleTimes.push((await evaluate(ens, test)).seconds);
    mergedTimes.push((await evaluate(one, test)).seconds);
  }
  for (const m of members) m.model.dispose();
  merged.dispose();
  const e = median(ensembleTimes);
  const m = median(mergedTimes);
  return {
    architecture: arch,
    memory: {
      classifierParams,
      encoderParams,
      decoderParams,
      combinedEncoderHeadParams,
      separateRatio: (classifierParams + encoderParams + decoderParams) / classifierParams,
      combinedRatio:
        (classifierParams + combinedEncoderHeadParams + decoderParams) / classifierParams,
      servedRatio: (classifierParams + decoderParams) / classifierParams,
    },
    inference: {
      testImages: test.count,
      networks: config.networks,
      ensembleSeconds: e,
      mergedSeconds: m,
      ensembleOverMerged: e / m,
      backend: tf.getBackend(),
      nativeKernels: nativeKernelsActive() ? nativeInfo() : null,
    },
  };
}
