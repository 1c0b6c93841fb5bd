import { modelPredictor } from '../../client';
import { buildClassifier } from '../../core/models';
import { deriveSeed } from '../../core/rng';
import { concatDatasets } from '../../data/subsample';
import { trainClassifier } from '../../train/classifier';
import { networkData, type RepeatContext, validationUnion } from '../networks';
import { type RowBase, type RowRun, score, summarise } from './row-run';

/**
 * The upper bound: the same classifier trained on the union of the images the networks
 * trained on (networkData: the same subsample and validation split), for the same epochs.
 */
export async function jointRow(ctx: RepeatContext, base: RowBase): Promise<RowRun> {
  const { config } = ctx;
  const classes = ctx.partition.flat().sort((a, b) => a - b);
  const train = concatDatasets(networkData(ctx).map((d) => d.train));
  const val = validationUnion(ctx);
  const { model } = buildClassifier({
    imageShape: train.imageShape,
    numClasses: classes.length,
    filters: config.train.architecture.classifierFilters,
    denseUnits: config.train.architecture.denseUnits,
    seed: deriveSeed(ctx.seed, 'joint-init') % 1_000_000,
  });
  try {
    const t = performance.now();
    ctx.log(`  joint: training one classifier on ${train.count} images of all classes...`);
    await trainClassifier(model, train, {
      network: 'joint',
      classes,
      epochs: config.train.epochs,
      batchSize: config.train.batchSize,
      learningRate: config.train.learningRate,
      seed: deriveSeed(ctx.seed, 'joint-train'),
      ...(val ? { heldOut: val, patience: config.train.patience } : {}),
    });
    const trainSeconds = (performance.now() - t) / 1000;
    const { test, validation } = await score(ctx, modelPredictor(model, classes));
    return {
      ...base,
      ...summarise(test, validation),
      seconds: { train: trainSeconds, inference: test.seconds },
    };
  } finally {
    model.dispose();
  }
}
