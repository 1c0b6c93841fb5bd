/**
 * What every probe of the generated/real gap shares (`npm run probe:transfer`, docs/RESULTS.md
 * "Probes of the gap"): one repeat's trained networks, their packets at the paper config's
 * settings (threshold 0.99, 5000 samples per class, made locally by the endpoints' sampler),
 * the paper config's fine-tuning schedule, and scoring on the validation union and test set.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { evaluate, modelPredictor } from '../../client/evaluate';
import { finetune, widenClassifier } from '../../client/finetune';
import type { MergedSet, SoftSet } from '../../client/merge';
import { DEFAULT_RECIPE } from '../../client/recipe';
import { generateReplaySet } from '../../client/replay';
import type { LoadedNetwork } from '../../core/model-folder';
import { deriveSeed } from '../../core/rng';
import type { Dataset } from '../../data/dataset';

/** The paper config's schedule, which is also the client's default (src/client/recipe.ts). */
export const SCHEDULE = {
  ...DEFAULT_RECIPE.schedule,
  frozenLayers: DEFAULT_RECIPE.schedule.frozenLayers ?? [],
};

export interface Repeat {
  nets: LoadedNetwork[];
  own: { train: Dataset; validation: Dataset }[];
  validation: Dataset;
  test: Dataset;
  target: LoadedNetwork;
  seed: number;
}

/** Every network's packet at the paper config's settings, made by the endpoints' sampler. */
export async function packets(r: Repeat, multiple = 1): Promise<SoftSet[]> {
  const sets: SoftSet[] = [];
  for (const net of r.nets) {
    sets.push(
      await generateReplaySet(net, {
        samples: DEFAULT_RECIPE.samplesPerClass * net.manifest.classes.length * multiple,
        seed: deriveSeed(r.seed, net.manifest.networkId),
        threshold: DEFAULT_RECIPE.threshold,
      }),
    );
  }
  return sets;
}

/** Validation and test accuracy of `model` (columns = classes), which it then disposes. */
export async function score(
  r: Repeat,
  model: tfl.LayersModel,
  classes: number[],
  view = (d: Dataset) => d,
) {
  const p = modelPredictor(model, classes);
  const v = await evaluate(p, view(r.validation));
  const t = await evaluate(p, view(r.test));
  model.dispose();
  return {
    validation: v.accuracy,
    test: t.accuracy,
    perClass: t.perClass.map((c) => ({ classId: c.classId, accuracy: c.accuracy })),
  };
}

export async function paperFinetune(r: Repeat, set: MergedSet) {
  const m = r.target.manifest;
  const model = widenClassifier(
    r.target.classifier,
    m,
    m.classes,
    set.classes,
    deriveSeed(r.seed, 'head'),
  );
  await finetune(model, set, { ...SCHEDULE, seed: deriveSeed(r.seed, 'finetune') });
  return model;
}
