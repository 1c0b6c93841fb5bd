import type * as tfl from '@tensorflow/tfjs-layers';
import { type Calibration, fitCalibration } from '../core/calibration';
import {
  type ArchitectureInfo,
  type CriticFakes,
  type CriticKind,
  type Manifest,
  MODEL_FORMAT_VERSION,
  type Variant,
} from '../core/manifest';
import {
  buildClassifier,
  buildDecoder,
  buildEncoder,
  buildFeatureExtractor,
  CLASSIFIER_CONV_NAMES,
  DEFAULT_ARCHITECTURE,
  disposeModels,
  PERCEPTUAL_LAYERS,
} from '../core/models';
import { deriveSeed } from '../core/rng';
import type { Dataset, DatasetPair } from '../data/idx';
import { selectClasses } from '../data/partition';
import { splitValidation, subsample } from '../data/subsample';
import { exportNetwork, type ManifestWithoutFiles } from '../node/model-export';
import { trainVaeAdversarial } from './adversarial';
import { evaluateClassifier, trainClassifier } from './classifier';
import { encodeByClass } from './latent-codes';
import { fitClassMixtures, fitClassPriors } from './latent-fit';
import { type OnTrainEvent, silent } from './progress';
import { trainVae } from './vae';

export interface TrainNetworkOptions {
  networkId: string;
  /** Global class ids this network owns. */
  classes: readonly number[];
  data: DatasetPair;
  variant: Variant;
  architecture?: ArchitectureInfo | undefined;
  latentSize?: number | undefined;
  epochs: number;
  /** VAE epochs; default: same as `epochs`. */
  vaeEpochs?: number | undefined;
  batchSize?: number | undefined;
  learningRate?: number | undefined;
  perceptualWeight?: number | undefined;
  /** Weight of the VAE's KL term (default 1). */
  klWeight?: number | undefined;
  /**
   * Epochs of the adversarial stage after the VAE's (default 0: none): a critic learns to
   * tell real images from reconstructions and the VAE learns to fool it (`adversarial.ts`).
   */
  adversarialEpochs?: number | undefined;
  /** Weight of the critic's term in the adversarial stage (default 10). */
  adversarialWeight?: number | undefined;
  /** What the adversarial stage's critic sees: the image alone (default) or with its class. */
  adversarialCritic?: CriticKind | undefined;
  /** What the critic is shown as fakes: reconstructions (default), or interpolations too. */
  adversarialFakes?: CriticFakes | undefined;
  /** Train on at most this many (seeded random) samples of the network's classes. */
  maxTrainSamples?: number | undefined;
  /**
   * Hold out this fraction of the network's own training images (seeded) as its validation
   * slice: for early stopping, for the network's calibration (calibration.json, fitted on the
   * slice after training) and, in the experiment, for calibrating the fair ensemble.
   */
  validationFraction?: number | undefined;
  /** Classifier early stopping on the validation slice (epochs without improvement). */
  patience?: number | undefined;
  seed: number;
  onEvent?: OnTrainEvent | undefined;
  /**
   * Skip stage 1 and start from this trained classifier (same classes and architecture; the
   * trained network takes ownership). Classifier training does not depend on the variant, so
   * the experiment trains it once per network and seed and reuses it for every variant.
   */
  classifier?: tfl.LayersModel | undefined;
}

export interface TrainedNetwork {
  manifest: ManifestWithoutFiles;
  classifier: tfl.LayersModel;
  encoder: tfl.LayersModel;
  decoder: tfl.LayersModel;
  /** Fitted on the validation slice when there is one (`validationFraction` > 0). */
  calibration?: Calibration | undefined;
  dispose(): void;
}

export const TRAIN_DEFAULTS = {
  latentSize: 32,
  batchSize: 64,
  learningRate: 1e-3,
  perceptualWeight: 1,
  adversarialWeight: 10,
  /** Most latent mixture components per class (the `class-mixture` generator). */
  mixtureComponents: 16,
  /** Fewest training images behind one mixture component. */
  mixtureMinCount: 32,
} as const;

interface Resolved {
  classes: number[];
  architecture: ArchitectureInfo;
  latentSize: number;
  batchSize: number;
  learningRate: number;
  vaeEpochs: number;
  train: Dataset;
  validation: Dataset;
  heldOut: Dataset;
  seedFor: (label: string) => number;
}

/**
 * The images a network trains on and its validation slice: its classes' training images,
 * subsampled to `maxTrainSamples`, minus a `validationFraction` slice. The joint baseline
 * takes the same images from here.
 */
export function networkDatasets(
  opts: Pick<
    TrainNetworkOptions,
    'networkId' | 'classes' | 'data' | 'seed' | 'maxTrainSamples' | 'validationFraction'
  >,
): { train: Dataset; validation: Dataset } {
  const seedFor = (label: string) =>
    deriveSeed(opts.seed, `${opts.networkId}/${label}`) % 1_000_000;
  const all = subsample(
    selectClasses(opts.data.train, opts.classes),
    opts.maxTrainSamples,
    seedFor('subsample'),
  );
  return splitValidation(all, opts.validationFraction ?? 0, seedFor('validation'));
}

function resolveOptions(opts: TrainNetworkOptions): Resolved {
  const classes = [...opts.classes].sort((a, b) => a - b);
  const seedFor = (label: string) =>
    deriveSeed(opts.seed, `${opts.networkId}/${label}`) % 1_000_000;
  const { train, validation } = networkDatasets(opts);
  if (train.count === 0)
    throw new Error(`${opts.networkId}: no training images of classes ${classes.join(',')}`);
  return {
    classes,
    architecture: opts.architecture ?? DEFAULT_ARCHITECTURE,
    latentSize: opts.latentSize ?? TRAIN_DEFAULTS.latentSize,
    batchSize: opts.batchSize ?? TRAIN_DEFAULTS.batchSize,
    learningRate: opts.learningRate ?? TRAIN_DEFAULTS.learningRate,
    vaeEpochs: opts.vaeEpochs ?? opts.epochs,
    train,
    validation,
    heldOut: selectClasses(opts.data.test, classes),
    seedFor,
  };
}

/**
 * Stage 1 alone: the network's classifier trained on its own classes, exactly as
 * `trainNetwork` trains it (same seeds, same images). It does not depend on the variant, so
 * the experiment trains it once per network and seed and passes it to `trainNetwork` for
 * every variant (`opts.classifier`).
 */
export async function trainNetworkClassifier(opts: TrainNetworkOptions): Promise<tfl.LayersModel> {
  const r = resolveOptions(opts);
  const { model } = buildClassifier({
    imageShape: opts.data.train.imageShape,
    numClasses: r.classes.length,
    filters: r.architecture.classifierFilters,
    denseUnits: r.architecture.denseUnits,
    seed: r.seedFor('classifier-init'),
  });
  try {
    await trainClassifier(model, r.train, {
      network: opts.networkId,
      classes: r.classes,
      epochs: opts.epochs,
      batchSize: r.batchSize,
      learningRate: r.learningRate,
      seed: r.seedFor('classifier-train'),
      // early stopping watches the network's own validation slice, never the test set
      heldOut: r.validation.count > 0 ? r.validation : r.heldOut,
      patience: r.validation.count > 0 ? opts.patience : undefined,
      onEvent: opts.onEvent ?? silent,
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Train one network: its classifier on its own classes, then its VAE.
 *  - separate: the VAE has its own encoder convs; the classifier only serves the perceptual loss.
 *  - combined: the encoder is the classifier's four conv layers, frozen after stage 1, plus
 *    new dense heads; stage 2 trains those heads and the decoder.
 */
export async function trainNetwork(opts: TrainNetworkOptions): Promise<TrainedNetwork> {
  const started = performance.now();
  const onEvent = opts.onEvent ?? silent;
  const {
    classes,
    architecture,
    latentSize,
    batchSize,
    learningRate,
    vaeEpochs,
    train,
    validation,
    heldOut,
    seedFor,
  } = resolveOptions(opts);
  const imageShape = opts.data.train.imageShape;
  const adversarial =
    (opts.adversarialEpochs ?? 0) > 0
      ? {
          epochs: opts.adversarialEpochs!,
          weight: opts.adversarialWeight ?? TRAIN_DEFAULTS.adversarialWeight,
          critic: opts.adversarialCritic ?? 'image',
          fakes: opts.adversarialFakes ?? 'reconstructions',
        }
      : undefined;
  const classifier = opts.classifier ?? (await trainNetworkClassifier(opts));
  const convLayers = CLASSIFIER_CONV_NAMES.map((n) => classifier.getLayer(n));
  if (classifier.outputs[0]?.shape.at(-1) !== classes.length) {
    throw new Error(
      `${opts.networkId}: the given classifier does not have ${classes.length} outputs`,
    );
  }
  const decoder = buildDecoder({
    imageShape,
    latentSize,
    filters: architecture.decoderFilters,
    upsampling: architecture.upsampling,
    seed: seedFor('decoder-init'),
  });
  const combined = opts.variant.architecture === 'combined';
  let encoder: tfl.LayersModel | undefined;
  let features: tfl.LayersModel | undefined;
  try {
    if (combined) for (const l of convLayers) l.trainable = false;
    encoder = buildEncoder({
      imageShape,
      latentSize,
      filters: architecture.encoderFilters,
      seed: seedFor('encoder-init'),
      ...(combined ? { sharedConvLayers: convLayers } : {}),
    });
    features =
      opts.variant.loss === 'reconstruction'
        ? undefined
        : buildFeatureExtractor(classifier, PERCEPTUAL_LAYERS);
    const vaeOptions = {
      network: opts.networkId,
      loss: opts.variant.loss,
      reconstruction: opts.variant.reconstruction,
      features,
      perceptualWeight: opts.perceptualWeight ?? TRAIN_DEFAULTS.perceptualWeight,
      klWeight: opts.klWeight,
      epochs: vaeEpochs,
      batchSize,
      learningRate,
      seed: seedFor('vae-train'),
      onEvent,
    };
    await trainVae(encoder, decoder, train, vaeOptions);
    if (adversarial) {
      await trainVaeAdversarial(encoder, decoder, train, {
        ...vaeOptions,
        epochs: adversarial.epochs,
        weight: adversarial.weight,
        critic: adversarial.critic,
        fakes: adversarial.fakes,
        classes,
        seed: seedFor('vae-adversarial'),
      });
    }
    // Shared layers go back to trainable, so an exported classifier can be fine-tuned.
    if (combined) for (const l of convLayers) l.trainable = true;

    const codes = encodeByClass(encoder, train, classes);
    const classPriors = fitClassPriors(codes);
    const classMixtures = fitClassMixtures(codes, {
      components: TRAIN_DEFAULTS.mixtureComponents,
      minCount: TRAIN_DEFAULTS.mixtureMinCount,
      seed: seedFor('latent-mixture'),
    });
    const evaluation = evaluateClassifier(classifier, heldOut, classes);
    // After all training: reads the trained classifier, changes nothing of what is exported.
    const calibration =
      validation.count > 0 ? fitCalibration(classifier, classes, validation) : undefined;
    const manifest: ManifestWithoutFiles = {
      formatVersion: MODEL_FORMAT_VERSION,
      networkId: opts.networkId,
      dataset: {
        name: opts.data.name,
        imageShape,
        trainCount: train.count,
        testCount: heldOut.count,
      },
      classes,
      variant: opts.variant,
      architecture,
      generator: { kind: 'vae-decoder', latentSize, classPriors, classMixtures },
      training: {
        seed: opts.seed,
        epochs: opts.epochs,
        vaeEpochs,
        ...(adversarial ? { adversarial } : {}),
        batchSize,
        durationSeconds: Math.round((performance.now() - started) / 100) / 10,
        heldOutAccuracy: evaluation.accuracy,
        perClassAccuracy: evaluation.perClass.map(({ classId, accuracy }) => ({
          classId,
          accuracy,
        })),
      },
    };
    const enc = encoder;
    const feat = features;
    return {
      manifest,
      classifier,
      encoder: enc,
      decoder,
      ...(calibration ? { calibration } : {}),
      dispose: () => disposeModels(classifier, enc, decoder, feat),
    };
  } catch (e) {
    disposeModels(classifier, encoder, decoder, features);
    throw e;
  }
}

/**
 * Train one network and export it to `dir` atomically; with a validation slice the folder
 * also holds its calibration.json.
 */
export async function trainAndExport(dir: string, opts: TrainNetworkOptions): Promise<Manifest> {
  const trained = await trainNetwork(opts);
  try {
    return await exportNetwork(dir, trained.manifest, trained.classifier, trained.decoder, {
      calibration: trained.calibration,
    });
  } finally {
    trained.dispose();
  }
}
