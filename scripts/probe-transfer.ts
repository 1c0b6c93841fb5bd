/**
 * npm run probe:transfer -- --probe KIND --nets DIR --data-dir DIR --seed N --target ID [options]
 *
 * Exploratory probes of the generated/real gap (docs/RESULTS.md, "Probes of the gap"): one
 * repeat's trained networks, the paper config's recipe (threshold 0.99, 5000 samples per
 * class, 3 epochs, conv1-2 frozen, 1-px shifts), with one change per variant, scored on the
 * networks' validation union and the test set. Packets are made locally by the endpoints'
 * sampler (the same bytes an endpoint would serve), not fetched over HTTP.
 *   blur         a Gaussian blur of sigma V on every image, trained on and scored
 *                (`sharpen-V`: an unsharp mask on the training images only)
 *   real-aligned the target's own real images in every batch, with a domain classifier on the
 *                dense features behind a gradient-reversal layer of weight V (0: none)
 *   typicality   keep a sample only when its owner's Mahalanobis score is at least the V-th
 *                quantile of the owner's own validation scores (the fair ensemble's score)
 *   relabel      soft targets (1 - V) x the sender's labels + V x the fair ensemble's
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { evaluate, initClientBackend, modelPredictor } from '../src/client';
import { translateInto } from '../src/client/augment';
import { calibrateMember, fairEnsemblePredictor } from '../src/client/fair-ensemble';
import { finetune, softCrossEntropy, widenClassifier } from '../src/client/finetune';
import { type MergedSet, mergeSets, type SoftSet } from '../src/client/merge';
import { DEFAULT_RECIPE } from '../src/client/recipe';
import { generateReplaySet } from '../src/client/replay';
import { NetworkIdSchema } from '../src/core/manifest';
import { type LoadedNetwork, loadNetwork } from '../src/core/model-folder';
import { createRng, deriveSeed, permutation } from '../src/core/rng';
import type { Dataset } from '../src/data/dataset';
import { loadDataset } from '../src/data/idx';
import { concatDatasets } from '../src/data/subsample';
import { defineCli, flag, runMain, switchFlag } from '../src/node/cli';
import { folderReader, pathExists, writeFolderAtomic } from '../src/node/fs-atomic';
import { checkOutputFolder } from '../src/node/output-folder';
import { networkDatasets } from '../src/train/train-network';

const PROBES = ['blur', 'real-aligned', 'typicality', 'relabel'] as const;
/** The paper config's schedule, which is also the client's default (src/client/recipe.ts). */
const SCHEDULE = {
  ...DEFAULT_RECIPE.schedule,
  frozenLayers: DEFAULT_RECIPE.schedule.frozenLayers ?? [],
};

const cli = defineCli({
  usage: 'npm run probe:transfer -- --probe KIND --nets DIR --data-dir DIR --seed N --target ID',
  about:
    'Exploratory probes of the generated/real gap on one repeat (see the header of this file).',
  flags: {
    probe: flag(z.enum(PROBES), { value: 'KIND', help: PROBES.join(' | ') }),
    nets: flag(z.string(), {
      value: 'DIR',
      help: "one repeat's network folders (net-a, net-b, ...)",
    }),
    'data-dir': flag(z.string(), {
      value: 'DIR',
      help: 'the dataset the networks were trained on',
    }),
    seed: flag(z.coerce.number().int().nonnegative(), { value: 'N', help: "the repeat's seed" }),
    target: flag(NetworkIdSchema, { value: 'ID', help: 'the fine-tuned network' }),
    values: flag(
      z
        .string()
        .transform((s) => s.split(',').filter(Boolean))
        .pipe(z.array(z.string().regex(/^(none|sharpen-)?[0-9.]*$/)).min(1)),
      { value: 'LIST', help: 'variants, e.g. none,0.6,1,sharpen-1 (blur) or 0,0.3 (others)' },
    ),
    'validation-fraction': flag(z.coerce.number().min(0.01).max(0.5), {
      value: 'F',
      default: 0.1,
      help: "each network's validation slice, as its training kept it",
    }),
    out: flag(z.string(), {
      value: 'DIR',
      help: 'results.json (new or empty folder; else --force)',
    }),
    force: switchFlag('replace a non-empty --out'),
  },
  rules: (f, ctx) => {
    for (const k of ['probe', 'nets', 'dataDir', 'seed', 'target', 'values', 'out'] as const) {
      if (f[k] === undefined) ctx.addIssue({ code: 'custom', message: 'required', path: [k] });
    }
  },
});

/** Gaussian blur (amount < 0) or unsharp mask x + amount (x - blur) of single-channel images. */
function filterImages(
  src: Uint8Array,
  n: number,
  h: number,
  w: number,
  sigma: number,
  amount = -1,
) {
  const r = Math.ceil(2.5 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) =>
    Math.exp(-((i - r) ** 2) / (2 * sigma ** 2)),
  );
  const sum = k.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(src.length);
  const tmp = new Float32Array(h * w);
  const at = (v: number, hi: number) => Math.min(hi - 1, Math.max(0, v));
  for (let m = 0; m < n; m++) {
    const o = m * h * w;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r]! * src[o + y * w + at(x + j, w)]!;
        tmp[y * w + x] = s / sum;
      }
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r]! * tmp[at(y + j, h) * w + x]!;
        const v = src[o + y * w + x]!;
        const f = amount < 0 ? s / sum : v + amount * (v - s / sum);
        out[o + y * w + x] = Math.max(0, Math.min(255, Math.round(f)));
      }
  }
  return out;
}

function imagesTensor(images: Uint8Array, start: number, n: number, shape: readonly number[]) {
  const px = shape[0]! * shape[1]! * shape[2]!;
  return tf.tidy(() =>
    tf.div(
      tf.tensor4d(images.subarray(start * px, (start + n) * px), [n, ...shape] as never, 'int32'),
      255,
    ),
  ) as tf.Tensor4D;
}

interface Repeat {
  nets: LoadedNetwork[];
  own: { train: Dataset; validation: Dataset }[];
  validation: Dataset;
  test: Dataset;
  target: LoadedNetwork;
  seed: number;
}

/** Every network's packet at the paper config's settings, made by the endpoints' sampler. */
async function packets(r: Repeat, multiple = 1): Promise<SoftSet[]> {
  const sets: SoftSet[] = [];
  for (const net of r.nets) {
    sets.push(
      await generateReplaySet(net, {
        samples: 5000 * net.manifest.classes.length * multiple,
        seed: deriveSeed(r.seed, net.manifest.networkId),
        threshold: 0.99,
      }),
    );
  }
  return sets;
}

async function score(
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

async function paperFinetune(r: Repeat, set: MergedSet) {
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

async function blurProbe(r: Repeat, value: string) {
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const [h, w] = merged.imageShape;
  if (value === 'none') return score(r, await paperFinetune(r, merged), merged.classes);
  if (value.startsWith('sharpen-')) {
    const images = filterImages(merged.images, merged.count, h, w, Number(value.slice(8)), 1);
    return score(r, await paperFinetune(r, { ...merged, images }), merged.classes);
  }
  const sigma = Number(value);
  const blur = (d: Dataset): Dataset => ({
    ...d,
    images: filterImages(d.images, d.count, h, w, sigma),
  });
  const images = filterImages(merged.images, merged.count, h, w, sigma);
  return score(r, await paperFinetune(r, { ...merged, images }), merged.classes, blur);
}

/** The target's real images in every batch (32 beside 64 generated), a domain classifier behind a gradient reversal. */
async function realAlignedProbe(r: Repeat, value: string) {
  const lambdaMax = Number(value);
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const real = r.own[r.nets.indexOf(r.target)]!.train;
  const m = r.target.manifest;
  const [h, w, c] = merged.imageShape;
  const px = h * w * c;
  const u = merged.classes.length;
  const ownCols = new Set(m.classes.map((id) => merged.classes.indexOf(id)));
  const model = widenClassifier(
    r.target.classifier,
    m,
    m.classes,
    merged.classes,
    deriveSeed(r.seed, 'head'),
  );
  const features = tfl.model({
    inputs: model.inputs,
    outputs: model.getLayer('dense').output as tfl.SymbolicTensor,
  });
  const head = model.getLayer('probs');
  const disc = tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 64,
        activation: 'relu',
        inputShape: [head.getWeights()[0]!.shape[0]!],
      }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  const vars = model.layers
    .filter((l) => !SCHEDULE.frozenLayers.includes(l.name))
    .flatMap((l) => l.trainableWeights.map((v) => v.read() as tf.Variable));
  const discVars = disc.trainableWeights.map((v) => v.read() as tf.Variable);
  const optimizer = tf.train.adam(SCHEDULE.learningRate);
  const rng = createRng(deriveSeed(r.seed, 'finetune'));
  const bs = SCHEDULE.batchSize;
  const realBatch = bs / 2;
  const batches = Math.ceil(merged.count / bs);
  const total = SCHEDULE.epochs * batches;
  let lambda = 0;
  const reverse = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, -lambda),
  }));
  let realOrder = permutation(real.count, rng);
  let rp = 0;
  let ord: Int32Array = permutation(0, rng);
  const shift = () => rng.int(3) - 1;
  for (let step = 0; step < total; step++) {
    const b = step % batches;
    if (b === 0) ord = permutation(merged.count, rng);
    const n = Math.min(bs, merged.count - b * bs);
    const x = new Float32Array((n + realBatch) * px);
    const y = new Float32Array((n + realBatch) * u);
    const domain = new Float32Array(n + realBatch);
    const mask = new Float32Array(n + realBatch);
    for (let i = 0; i < n; i++) {
      const j = ord[b * bs + i]!;
      translateInto(x, i * px, merged.images, j * px, h, w, c, shift(), shift());
      let best = 0;
      for (let k = 0; k < u; k++) {
        y[i * u + k] = merged.targets[j * u + k]!;
        if (y[i * u + k]! > y[i * u + best]!) best = k;
      }
      if (ownCols.has(best)) mask[i] = 1; // generated images of the target's own classes
    }
    for (let i = n; i < n + realBatch; i++) {
      if (rp >= real.count) [realOrder, rp] = [permutation(real.count, rng), 0];
      const j = realOrder[rp++]!;
      translateInto(x, i * px, real.images, j * px, h, w, c, shift(), shift());
      y[i * u + merged.classes.indexOf(real.labels[j]!)] = 1;
      domain[i] = 1;
      mask[i] = 1;
    }
    const p = step / total;
    lambda = lambdaMax * (2 / (1 + Math.exp(-10 * p)) - 1);
    (optimizer as unknown as { learningRate: number }).learningRate =
      SCHEDULE.learningRate *
      (SCHEDULE.finalFraction + (1 - SCHEDULE.finalFraction) * 0.5 * (1 + Math.cos(Math.PI * p)));
    const [xt, yt, dt, mt] = [
      tf.tensor4d(x, [n + realBatch, h, w, c]),
      tf.tensor2d(y, [n + realBatch, u]),
      tf.tensor2d(domain, [n + realBatch, 1]),
      tf.tensor2d(mask, [n + realBatch, 1]),
    ];
    const cost = optimizer.minimize(
      () => {
        const f = features.apply(xt, { training: true }) as tf.Tensor;
        const ce = softCrossEntropy(yt, head.apply(f) as tf.Tensor);
        if (lambdaMax <= 0) return ce;
        const logits = disc.apply(reverse(f) as tf.Tensor) as tf.Tensor;
        const bce = tf.losses.sigmoidCrossEntropy(dt, logits, undefined, 0, tf.Reduction.NONE);
        return tf.add(ce, tf.div(tf.sum(tf.mul(bce, mt)), tf.maximum(tf.sum(mt), 1))) as tf.Scalar;
      },
      true,
      lambdaMax > 0 ? [...vars, ...discVars] : vars,
    )!;
    tf.dispose([xt, yt, dt, mt, cost]);
  }
  optimizer.dispose();
  disc.dispose();
  return score(r, model, merged.classes);
}

async function typicalityProbe(r: Repeat, value: string, candidates: Promise<SoftSet[]>) {
  const q = Number(value);
  const sets = await candidates;
  const kept = sets.map((set, i) => {
    const net = r.nets[i]!;
    const member = calibrateMember(net.classifier, net.manifest.classes, r.own[i]!.validation);
    const want = 5000 * net.manifest.classes.length;
    const k = set.classIds.length;
    const px = set.images.length / set.count;
    const idx: number[] = [];
    for (let s = 0; s < set.count && idx.length < want; s += 500) {
      const n = Math.min(500, set.count - s);
      const scores = tf.tidy(() => {
        const [f] = member.heads.predict(
          imagesTensor(set.images, s, n, set.imageShape),
        ) as tf.Tensor[];
        const d = Array.from({ length: member.means.shape[0] }, (_, cl) => {
          const delta = tf.sub(f!, tf.slice(member.means, [cl, 0], [1, -1]));
          return tf.sum(tf.mul(tf.matMul(delta, member.precision), delta), 1);
        });
        return tf.neg(tf.min(tf.stack(d, 1), 1));
      });
      const v = scores.dataSync();
      scores.dispose();
      const cut =
        member.scores[Math.min(member.scores.length - 1, Math.floor(q * member.scores.length))]!;
      for (let j = 0; j < n && idx.length < want; j++) if (q === 0 || v[j]! >= cut) idx.push(s + j);
    }
    const images = new Uint8Array(idx.length * px);
    const softLabels = new Float32Array(idx.length * k);
    idx.forEach((j, row) => {
      images.set(set.images.subarray(j * px, (j + 1) * px), row * px);
      softLabels.set(set.softLabels.subarray(j * k, (j + 1) * k), row * k);
    });
    return { ...set, count: idx.length, images, softLabels };
  });
  const merged = mergeSets(kept, { seed: deriveSeed(r.seed, 'merge') });
  return {
    counts: kept.map((s) => s.count),
    ...(await score(r, await paperFinetune(r, merged), merged.classes)),
  };
}

async function relabelProbe(r: Repeat, value: string) {
  const mix = Number(value);
  const merged = mergeSets(await packets(r), { seed: deriveSeed(r.seed, 'merge') });
  const members = r.nets.map((n, i) =>
    calibrateMember(n.classifier, n.manifest.classes, r.own[i]!.validation),
  );
  const fair = fairEnsemblePredictor(members);
  const u = merged.classes.length;
  const targets = new Float32Array(merged.targets.length);
  let agree = 0;
  for (let s = 0; s < merged.count; s += 500) {
    const n = Math.min(500, merged.count - s);
    const out = tf.tidy(() => fair.predict(imagesTensor(merged.images, s, n, merged.imageShape)));
    const v = out.dataSync();
    out.dispose();
    for (let i = 0; i < n; i++) {
      const row = (s + i) * u;
      let sum = 0;
      for (let k = 0; k < u; k++) sum += v[i * u + k]!;
      let [a, b] = [0, 0];
      for (let k = 0; k < u; k++) {
        const fe = v[i * u + k]! / Math.max(sum, 1e-9);
        targets[row + k] = (1 - mix) * merged.targets[row + k]! + mix * fe;
        if (merged.targets[row + k]! > merged.targets[row + a]!) a = k;
        if (v[i * u + k]! > v[i * u + b]!) b = k;
      }
      if (a === b) agree++;
    }
  }
  const model = await paperFinetune(r, { ...merged, targets });
  return { fairAgreesWithSender: agree / merged.count, ...(await score(r, model, merged.classes)) };
}

runMain(async () => {
  const f = cli.parse(process.argv.slice(2));
  const out = f.out!;
  await checkOutputFolder(out, { force: f.force, ownFiles: ['results.json'] });
  await initClientBackend('wasm');
  const data = await loadDataset({ dataDir: f.dataDir! });
  const ids = [
    'net-a',
    'net-b',
    'net-c',
    'net-d',
    'net-e',
    'net-f',
    'net-g',
    'net-h',
    'net-i',
    'net-j',
  ];
  const nets: LoadedNetwork[] = [];
  for (const id of ids) {
    const dir = join(f.nets!, id);
    if (!(await pathExists(join(dir, 'manifest.json')))) break;
    nets.push(await loadNetwork(folderReader(dir)));
  }
  const target = nets.find((n) => n.manifest.networkId === f.target);
  if (!target) throw new Error(`--target ${f.target} is not one of the networks in ${f.nets}`);
  const own = nets.map((n) =>
    networkDatasets({
      networkId: n.manifest.networkId,
      classes: n.manifest.classes,
      data,
      seed: f.seed!,
      validationFraction: f.validationFraction,
    }),
  );
  const r: Repeat = {
    nets,
    own,
    validation: concatDatasets(own.map((o) => o.validation)),
    test: data.test,
    target,
    seed: f.seed!,
  };
  const candidates = f.probe === 'typicality' ? packets(r, 3) : Promise.resolve([]);
  const variants: Record<string, unknown>[] = [];
  for (const value of f.values!) {
    const t0 = performance.now();
    const res =
      f.probe === 'blur'
        ? await blurProbe(r, value)
        : f.probe === 'real-aligned'
          ? await realAlignedProbe(r, value)
          : f.probe === 'typicality'
            ? await typicalityProbe(r, value, candidates)
            : await relabelProbe(r, value);
    const row = { value, ...res, seconds: (performance.now() - t0) / 1000 };
    console.log(
      `${f.probe} ${value}: validation ${row.validation.toFixed(4)} test ${row.test.toFixed(4)}`,
    );
    variants.push(row);
  }
  const summary = {
    probe: f.probe,
    nets: f.nets,
    seed: f.seed,
    target: f.target,
    dataset: data.name,
    variants,
  };
  await writeFolderAtomic(out, { 'results.json': `${JSON.stringify(summary, null, 2)}\n` });
  console.log(
    JSON.stringify({
      probe: f.probe,
      variants: variants.map((v) => ({ value: v.value, validation: v.validation, test: v.test })),
    }),
  );
});
