import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { sha256Hex } from '../core/manifest';
import { writeFileAtomic } from '../node/fs-atomic';
import { claimHeld, claimUnit } from '../node/unit-claim';
import type { ExperimentConfig } from './config';

/**
 * Where every cached unit of an experiment lives, and how a unit is computed once:
 *
 *   <runsDir>/classifiers-<hash of classifierPart(config)>/  classifiers + baselines
 *     s<seed>/classifier/<net>/, s<seed>/rows/<baseline>.json
 *   <runsDir>/train-<hash of trainingPart(config)>/   networks (classifier + generator)
 *     s<seed>/nets/<variant>/<net>/
 *   <runsDir>/<config name>-<hash of the config>/       generative rows, results.{json,md}
 *     s<seed>/rows/<row>.json
 *
 * Several processes may share one runs folder: a unit is claimed while it is computed
 * (src/node/unit-claim.ts); a process that needs a unit another one holds waits for the
 * claim to go (a file-system event, with a slow re-check for other machines' claims).
 */
export interface UnitStore {
  runsDir: string;
  /** Generative rows and results: keyed by the whole config. */
  root: string;
  /** Networks (classifier + generator): keyed by the training settings only. */
  trainRoot: string;
  /** Classifiers and the baseline rows (ensembles, joint): keyed by the classifier's settings only. */
  classifierRoot: string;
  configHash: string;
  trainingHash: string;
  classifierHash: string;
}

export async function configHash(config: unknown): Promise<string> {
  return (await sha256Hex(new TextEncoder().encode(JSON.stringify(config)))).slice(0, 12);
}

/**
 * The part of a config that the trained networks and the baseline rows (ensembles, joint)
 * depend on. Units under it are shared by every config that differs only in how packets are
 * shared or how the target is fine-tuned.
 */
export function trainingPart(config: ExperimentConfig) {
  return {
    networks: config.networks,
    ...(config.partition ? { partition: config.partition } : {}),
    dataDir: config.dataDir,
    train: config.train,
    testLimit: config.testLimit,
  };
}

/**
 * The part of a config that each network's classifier and the baseline rows depend on: the
 * training settings without the generator's (VAE epochs, KL, perceptual and adversarial settings, latent size, encoder and
 * decoder), so a config that only changes the generator reuses classifiers and baselines.
 */
export function classifierPart(config: ExperimentConfig) {
  const {
    vaeEpochs: _e,
    klWeight: _k,
    perceptualWeight: _p,
    adversarialEpochs: _ae,
    adversarialWeight: _aw,
    adversarialCritic: _ac,
    adversarialFakes: _af,
    latentSize: _l,
    architecture,
    ...train
  } = config.train;
  return {
    ...trainingPart(config),
    train: {
      ...train,
      architecture: {
        classifierFilters: architecture.classifierFilters,
        denseUnits: architecture.denseUnits,
      },
    },
  };
}

export async function openUnitStore(config: ExperimentConfig, runsDir: string): Promise<UnitStore> {
  const hash = await configHash(config);
  const trainHash = await configHash(trainingPart(config));
  const classifierHash = await configHash(classifierPart(config));
  const dir = resolve(runsDir);
  const store: UnitStore = {
    runsDir: dir,
    root: join(dir, `${config.name}-${hash}`),
    trainRoot: join(dir, `train-${trainHash}`),
    classifierRoot: join(dir, `classifiers-${classifierHash}`),
    configHash: hash,
    trainingHash: trainHash,
    classifierHash,
  };
  await writeJson(join(store.root, 'config.json'), config);
  await writeJson(join(store.trainRoot, 'config.json'), trainingPart(config));
  await writeJson(join(store.classifierRoot, 'config.json'), classifierPart(config));
  return store;
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function writeJson(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Resolves when `unit`'s claim is gone (or after `recheckMs`, for claims on other hosts). */
export function claimGone(unit: string, recheckMs = 60_000): Promise<void> {
  return new Promise((done) => {
    const claim = `${basename(unit)}.claim`;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      watcher?.close();
      clearTimeout(timer);
      done();
    };
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(dirname(unit), (_event, name) => {
        if (name === null || name === claim) {
          claimHeld(unit).then((held) => held || finish(), finish);
        }
      });
      watcher.on('error', finish);
    } catch {
      // no folder to watch: fall back to the timer
    }
    const timer = setTimeout(finish, recheckMs);
    // the claim may have gone between the caller's look and the watch
    claimHeld(unit).then((held) => held || finish(), finish);
  });
}

/** A unit another process is computing, met while `waiting` is off. */
export class UnitBusyError extends Error {
  override name = 'UnitBusyError';
}

/**
 * Whether units held by another process are waited for (an event) or reported busy at once
 * (`UnitBusyError`), so the caller can do other units first. Per run, not global.
 */
export interface WaitPolicy {
  waiting: boolean;
}

/**
 * The unit at `path`: `load()` when it is there, else computed by `compute()` under a claim.
 * When another process holds the claim: with `policy.waiting`, wait for it to go (then load
 * or compute), else throw UnitBusyError. `compute` must write the unit atomically.
 */
export async function computeOnce<T>(
  path: string,
  load: () => Promise<T | undefined>,
  compute: () => Promise<T>,
  policy: WaitPolicy,
  onWait?: () => void,
): Promise<T> {
  for (;;) {
    const cached = await load();
    if (cached !== undefined) return cached;
    const claim = await claimUnit(path);
    if (!claim) {
      if (!policy.waiting) throw new UnitBusyError(path);
      onWait?.();
      await claimGone(path);
      continue;
    }
    try {
      const again = await load();
      if (again !== undefined) return again;
      return await compute();
    } finally {
      await claim.release();
    }
  }
}
