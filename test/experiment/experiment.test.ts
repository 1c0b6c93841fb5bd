import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initClientBackend } from '../../src/client';
import { type ExperimentConfig, QUICK } from '../../src/experiment/config';
import { runDemo } from '../../src/experiment/demo';
import { runExperiment } from '../../src/experiment/runner';
import { meanStd } from '../../src/experiment/stats';
import { TINY_ARCHITECTURE, writeTinyNetwork } from '../fixtures/tiny-network';

/** Whole pipelines over HTTP: minutes on a busy 2-core machine. */
const INTEGRATION_TIMEOUT_MS = 360_000;

/** A config small enough for a test: the whole pipeline, tiny everything. */
const TINY: ExperimentConfig = {
  ...QUICK,
  name: 'tiny',
  train: {
    ...QUICK.train,
    architecture: TINY_ARCHITECTURE,
    latentSize: 8,
    epochs: 1,
    vaeEpochs: 1,
    maxTrainSamples: 300,
  },
  share: { ...QUICK.share, samplesPerClass: 20, chunkSize: 40, selectionThreshold: 0.15 },
  finetune: { ...QUICK.finetune, epochs: 1 },
  testLimit: 300,
};

beforeAll(async () => {
  await initClientBackend('wasm');
});

describe('experiment runner', () => {
  it(
    'runs rows over HTTP, caches every unit, resumes after a kill',
    async () => {
      const runsDir = await mkdtemp(join(tmpdir(), 'ks-exp-'));
      const rows = [
        'ensemble',
        'separate-perceptual',
        'separate-selection-perceptual',
        'joint',
      ] as const;
      const logs: string[] = [];
      const first = await runExperiment({
        config: TINY,
        repeats: 1,
        seed: 3,
        runsDir,
        rows,
        log: (l) => logs.push(l),
      });
      expect(first.rows.map((r) => r.id)).toEqual([...rows]);
      for (const r of first.rows) {
        expect(r.n).toBe(1);
        expect(r.mean).toBeGreaterThan(0);
        expect(r.mean).toBeLessThanOrEqual(1);
      }
      expect(first.seeds).toHaveLength(1);
      const gen = first.runs.find((r) => r.row === 'separate-perceptual')!;
      expect(gen.detail?.sources).toHaveLength(2); // both networks' packets, over HTTP
      expect(gen.seconds.ensembleInference).toBeGreaterThan(0);
      expect(first.sideClaims).toHaveProperty('memory.separateRatio');
      const json = JSON.parse(await readFile(join(first.dir, 'results.json'), 'utf8'));
      expect(json.config.name).toBe('tiny');
      expect(await readFile(join(first.dir, 'results.md'), 'utf8')).toMatch(/\| approach \|/);

      // a "killed" run: two rows' results are missing; only they are recomputed, from the
      // cached networks
      const seed = first.seeds[0]!;
      const trainRows = join(runsDir, `classifiers-${first.classifierHash}`, `s${seed}`, 'rows');
      const configRows = join(first.dir, `s${seed}`, 'rows');
      await rm(join(trainRows, 'joint.json'));
      await rm(join(configRows, 'separate-perceptual.json'));
      const again: string[] = [];
      const second = await runExperiment({
        config: TINY,
        repeats: 1,
        seed: 3,
        runsDir,
        rows,
        log: (l) => again.push(l),
      });
      expect(again.filter((l) => l.includes('cached'))).toHaveLength(2);
      expect(again.some((l) => l.includes('training net-'))).toBe(false);
      expect(second.rows.map((r) => r.mean)).toEqual(first.rows.map((r) => r.mean));
      await access(join(trainRows, 'joint.json'));

      // --cached-only: the table of what is cached, the rest listed as missing, nothing computed
      const peek: string[] = [];
      const partial = await runExperiment({
        config: TINY,
        repeats: 2,
        seed: 3,
        runsDir,
        rows,
        cachedOnly: true,
        log: (l) => peek.push(l),
      });
      expect(partial.rows.map((r) => r.n)).toEqual([1, 1, 1, 1]);
      expect(partial.rows.map((r) => r.mean)).toEqual(first.rows.map((r) => r.mean));
      expect(partial.missing.map((u) => [u.row, u.repeat])).toEqual(rows.map((r) => [r, 1]));
      expect(peek.some((l) => l.includes('training net-'))).toBe(false);
      const md = await readFile(join(partial.dir, 'results.md'), 'utf8');
      expect(md).toMatch(
        /Not computed yet \(4 of 8 units\): ensemble repeat 2; separate-perceptual repeat 2/,
      );
      // per repeat: repeat 1's accuracy, a dash for repeat 2
      expect(md).toContain(`| ${first.runs[0]!.accuracy.toFixed(4)} – |`);

      // other fine-tuning settings: a new config folder, but the networks and baselines are reused
      const tuned: string[] = [];
      const third = await runExperiment({
        config: { ...TINY, finetune: { ...TINY.finetune, learningRate: 1e-3 } },
        repeats: 1,
        seed: 3,
        runsDir,
        rows,
        log: (l) => tuned.push(l),
      });
      expect(third.configHash).not.toBe(first.configHash);
      expect(third.trainingHash).toBe(first.trainingHash);
      expect(tuned.some((l) => l.includes('training net-'))).toBe(false);
      expect(tuned.filter((l) => l.includes('cached'))).toHaveLength(2); // ensemble, joint
      expect(third.rows[0]!.mean).toBe(first.rows[0]!.mean);

      // other generator settings: new networks, but the classifiers and baselines are reused
      const regen: string[] = [];
      const fourth = await runExperiment({
        config: {
          ...TINY,
          train: { ...TINY.train, klWeight: 0.5, perceptualWeight: 2, adversarialEpochs: 1 },
        },
        repeats: 1,
        seed: 3,
        runsDir,
        rows: ['ensemble', 'joint'],
        log: (l) => regen.push(l),
      });
      expect(fourth.trainingHash).not.toBe(first.trainingHash);
      expect(fourth.classifierHash).toBe(first.classifierHash);
      expect(regen.some((l) => l.includes('training net-'))).toBe(false);
      expect(regen.filter((l) => l.includes('cached'))).toHaveLength(2);
      expect(fourth.rows.map((r) => r.mean)).toEqual([first.rows[0]!.mean, first.rows[3]!.mean]);

      // an endpoint that cannot fill the selection threshold fails that row only, uncached
      const strict = await runExperiment({
        config: { ...TINY, share: { ...TINY.share, selectionThreshold: 0.99 } },
        repeats: 1,
        seed: 3,
        runsDir,
        rows: ['separate-selection-perceptual', 'joint'],
      });
      expect(strict.failures).toHaveLength(1);
      expect(strict.failures[0]!.error).toMatch(/422/);
      expect(strict.rows.map((r) => r.n)).toEqual([0, 1]);
    },
    INTEGRATION_TIMEOUT_MS,
  );

  it(
    'two runs on one runs folder at once compute every unit once',
    async () => {
      const runsDir = await mkdtemp(join(tmpdir(), 'ks-exp-par-'));
      const rows = ['ensemble', 'combined-reconstruction', 'separate-perceptual', 'joint'] as const;
      const logs: [string[], string[]] = [[], []];
      const [a, b] = await Promise.all(
        logs.map((l) =>
          runExperiment({
            config: TINY,
            repeats: 1,
            seed: 4,
            runsDir,
            rows,
            log: (line) => l.push(line),
          }),
        ),
      );
      expect(a!.rows.map((r) => r.mean)).toEqual(b!.rows.map((r) => r.mean));
      const all = [...logs[0], ...logs[1]];
      // each network's classifier trained once, each of its 2 generators once
      expect(all.filter((l) => /training net-.'s classifier/.test(l))).toHaveLength(2);
      expect(all.filter((l) => /training net-. \(/.test(l))).toHaveLength(4);
      // every row computed by exactly one of them, read from the cache by the other
      for (const row of rows) {
        const computed = new RegExp(`^ {2}repeat 1 ${row}: [0-9.]+ s, accuracy`);
        expect(all.filter((l) => computed.test(l))).toHaveLength(1);
      }
    },
    INTEGRATION_TIMEOUT_MS,
  );

  it(
    'any partition and target; validation slices; fair ensemble and recipe rows',
    async () => {
      const runsDir = await mkdtemp(join(tmpdir(), 'ks-exp-rec-'));
      const logs: string[] = [];
      const config: ExperimentConfig = {
        ...TINY,
        name: 'tiny-recipes',
        networks: 3,
        partition: [
          [0, 1, 2],
          [3, 4, 5, 6],
          [7, 8, 9],
        ],
        target: 'net-b',
        train: { ...TINY.train, validationFraction: 0.2 },
        recipes: [
          {
            id: 'sharp-own',
            label: 'own real images, sharper labels, mixup',
            ownData: 'real',
            labelTemperature: 0.5,
            threshold: 0,
            finetune: { mixup: 0.4 },
          },
          {
            id: 'half-own',
            label: 'own real images and replay, capped per class, from fresh weights',
            ownData: 'real+replay',
            ownSamplesPerClass: 10,
            replaySamplesPerClass: 5,
            threshold: 0,
            finetune: { fromScratch: true },
          },
        ],
      };
      const r = await runExperiment({
        config,
        repeats: 1,
        seed: 5,
        runsDir,
        rows: ['fair-ensemble', 'sharp-own', 'half-own', 'joint'],
        log: (l) => logs.push(l),
      });
      expect(r.rows.map((x) => [x.id, x.n])).toEqual([
        ['joint', 1],
        ['fair-ensemble', 1],
        ['sharp-own', 1],
        ['half-own', 1],
      ]);
      for (const row of r.rows) expect(row.validation?.n).toBe(1);
      expect(r.target).toBe('net-b');
      expect(r.partitions).toEqual([
        [
          [0, 1, 2],
          [3, 4, 5, 6],
          [7, 8, 9],
        ],
      ]);
      expect(r.dataset.digest).toMatch(/^[0-9a-f]{64}$/);
      const own = r.runs.find((x) => x.row === 'sharp-own')!;
      expect(own.target).toBe('net-b');
      // the target's own real images replace its replay: no packets fetched from net-b
      const sources = (own.detail!.sources as { networkId: string; source: string }[]).map(
        (s) => s.source,
      );
      expect(sources.some((s) => s === 'own:net-b')).toBe(true);
      // capped: 10 own images and 5 generated per class of net-b's 4
      const half = r.runs.find((x) => x.row === 'half-own')!;
      const counts = (
        half.detail!.sources as { networkId: string; source: string; count: number }[]
      )
        .filter((s) => s.networkId === 'net-b')
        .map((s) => [s.source === 'own:net-b' ? 'own' : 'replay', s.count]);
      expect(counts.sort()).toEqual([
        ['own', 40],
        ['replay', 20],
      ]);
      // each network keeps 20 % of its 300 images; the joint row trains on the other 80 %
      expect(logs.some((l) => /joint: training one classifier on 720 images/.test(l))).toBe(true);
      const fair = r.runs.find((x) => x.row === 'fair-ensemble')!;
      expect(Object.keys(fair.detail!.temperatures as object)).toEqual(['net-a', 'net-b', 'net-c']);
    },
    INTEGRATION_TIMEOUT_MS,
  );

  it('mean ± std', () => {
    expect(meanStd([1, 2, 3])).toEqual({ mean: 2, std: 1, n: 3 });
    expect(meanStd([0.5])).toEqual({ mean: 0.5, std: 0, n: 1 });
  });
});

describe('npm start demo', () => {
  it(
    'starts workerd endpoints, prints before/after rows, writes PNGs, stops servers, falls back on 422',
    async () => {
      const parent = await mkdtemp(join(tmpdir(), 'ks-demo-'));
      await writeTinyNetwork({
        networkId: 'net-a',
        classes: [0, 1, 2, 3, 4],
        dir: join(parent, 'models', 'net-a'),
      });
      await writeTinyNetwork({
        networkId: 'net-b',
        classes: [5, 6, 7, 8, 9],
        dir: join(parent, 'models', 'net-b'),
      });
      const urls: string[] = [];
      const result = await runDemo({
        modelsDir: join(parent, 'models'),
        outDir: join(parent, 'out'),
        runtime: 'workerd',
        samplesPerClass: 10,
        epochs: 1,
        log: (l) => {
          const m = /at (http:\/\/\S+)/.exec(l);
          if (m) urls.push(m[1]!);
        },
      });
      expect(result.rows.map((r) => r.name)).toEqual([
        'net-a alone',
        'net-b alone',
        'ensemble of 2',
        'net-b merged (one network)',
      ]);
      expect(result.table).toMatch(/ensemble of 2/);
      // untrained networks cannot fill threshold 0.9: the demo says so and uses 0
      expect(result.notes).toEqual([expect.stringMatching(/threshold 0.9 asks too much/)]);
      for (const p of result.previews) {
        const png = await readFile(p);
        expect(png.subarray(1, 4).toString()).toBe('PNG');
      }
      await access(join(result.mergedDir, 'manifest.json'));
      expect(urls).toHaveLength(2);
      for (const u of urls) await expect(fetch(`${u}/healthz`)).rejects.toThrow();
    },
    INTEGRATION_TIMEOUT_MS,
  );
});
