import * as tf from '@tensorflow/tfjs-core';
import { forward } from './forward';
import type { GeneratorPlugin } from './generators';
import { portableKernels } from './kernels/override';
import type { LoadedNetwork } from './model-folder';
import { createRng } from './rng';

/**
 * The one sampler: an endpoint's packets and a client's local replay of its own network both
 * come from `sampleFiltered`, so the same (network, generator, params, limits) give the same
 * bytes wherever they are made.
 */
export interface SamplingLimits {
  /** Candidates decoded and classified per batch (part of the output: fixed per endpoint). */
  batchSize: number;
  /** A request may generate at most `count * maxAttemptsPerSample` candidates. */
  maxAttemptsPerSample: number;
}

/** What an endpoint publishes by default; a local replay uses the same. */
export const DEFAULT_SAMPLING_LIMITS: SamplingLimits = { batchSize: 128, maxAttemptsPerSample: 8 };

export interface SampleParams {
  count: number;
  seed: number;
  threshold: number;
  /** Class ids with equal quotas (count split evenly, remainder to the lowest ids); all when absent. */
  classes: readonly number[] | undefined;
}

export interface SampleSet {
  /** [kept, H, W, C] bytes. */
  images: Uint8Array;
  /** [kept, K] row-major; column k = manifest.classes[k]. */
  softLabels: Float32Array;
  kept: number;
  generated: number;
  /** Kept samples per class id (argmax of the soft label), every class of the network listed. */
  perClass: Record<string, number>;
  /** Argmax column of every kept sample. */
  predicted: Int32Array;
}

/** The attempt budget ran out before `count` samples passed the filter. */
export class BudgetExhaustedError extends Error {
  override name = 'BudgetExhaustedError';
  constructor(
    message: string,
    readonly detail: {
      requested: number;
      kept: number;
      generated: number;
      budget: number;
      perClass: Record<string, number>;
    },
  ) {
    super(message);
  }
}

/** The caller stopped the work (e.g. the client went away): thrown between batches. */
export class SamplingAbortedError extends Error {
  override name = 'SamplingAbortedError';
  constructor(readonly generated: number) {
    super(`sampling stopped after ${generated} candidates: the request was aborted`);
  }
}

/**
 * Optional control of a long run; none of it touches the RNG or the batches, so the output
 * bytes are the same with or without it.
 */
export interface SampleControl {
  /** Checked before every batch: once aborted, sampling throws SamplingAbortedError. */
  signal?: AbortSignal | undefined;
  /** Awaited after every batch, e.g. to yield to the event loop so other requests are served. */
  afterBatch?:
    | ((progress: { generated: number; kept: number }) => void | Promise<void>)
    | undefined;
}

/** Quota per class id: `count` split evenly over `classes`, remainder to the first ones. */
export function quotas(count: number, classes: readonly number[]): Map<number, number> {
  const sorted = [...classes].sort((a, b) => a - b);
  const m = sorted.length;
  return new Map(sorted.map((c, i) => [c, Math.floor(count / m) + (i < count % m ? 1 : 0)]));
}

/**
 * Generate candidates in seeded batches, label them with the classifier, keep those whose
 * max soft label >= threshold (and whose class still has quota) until `count` are kept.
 * Deterministic for (network, generator, params): one RNG stream, fixed batch size.
 * Throws BudgetExhaustedError rather than return fewer than `count` samples, and
 * SamplingAbortedError once `control.signal` is aborted (checked between batches).
 */
export async function sampleFiltered(
  net: LoadedNetwork,
  generator: GeneratorPlugin,
  params: SampleParams,
  limits: SamplingLimits = DEFAULT_SAMPLING_LIMITS,
  control: SampleControl = {},
): Promise<SampleSet> {
  const { manifest } = net;
  const [h, w, c] = manifest.dataset.imageShape;
  const pixels = h * w * c;
  const k = manifest.classes.length;
  const column = new Map(manifest.classes.map((id, i) => [id, i]));
  const quota = params.classes ? quotas(params.count, params.classes) : undefined;
  const keptPerColumn = new Int32Array(k);
  const budget = params.count * limits.maxAttemptsPerSample;
  const rng = createRng(params.seed);

  const images = new Uint8Array(params.count * pixels);
  const softLabels = new Float32Array(params.count * k);
  const predicted = new Int32Array(params.count);
  let kept = 0;
  let generated = 0;
  let cursor = 0;

  const wanted = (): number[] => {
    const open = quota
      ? [...quota].filter(([id, q]) => keptPerColumn[column.get(id)!]! < q).map(([id]) => id)
      : manifest.classes;
    return open.length > 0 ? open : manifest.classes;
  };

  while (kept < params.count) {
    if (control.signal?.aborted) throw new SamplingAbortedError(generated);
    if (generated >= budget) throw exhausted();
    const n = Math.min(limits.batchSize, budget - generated);
    const open = wanted();
    const targets = generator.targetsClasses
      ? Array.from({ length: n }, () => open[cursor++ % open.length]!)
      : [];
    // Portable kernels only: the same bytes in Node (even with native kernels) and in workerd.
    const [batch, probsT] = portableKernels(() => {
      const x = generator.sample({ manifest, decoder: net.decoder }, { count: n, rng, targets });
      return [x, forward(net.classifier, x)] as const;
    });
    const [pix, probs] = await Promise.all([batch.data(), probsT.data()]);
    tf.dispose([batch, probsT]);
    generated += n;
    for (let i = 0; i < n && kept < params.count; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (probs[i * k + j]! > probs[i * k + best]!) best = j;
      if (probs[i * k + best]! < params.threshold) continue;
      if (quota) {
        const q = quota.get(manifest.classes[best]!);
        if (q === undefined || keptPerColumn[best]! >= q) continue;
      }
      keptPerColumn[best]!++;
      const src = i * pixels;
      const dst = kept * pixels;
      for (let p = 0; p < pixels; p++) {
        const v = pix[src + p]!;
        images[dst + p] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
      }
      for (let j = 0; j < k; j++) softLabels[kept * k + j] = probs[i * k + j]!;
      predicted[kept] = best;
      kept++;
    }
    // Give up early when a quarter of the budget shows the rest cannot reach `count`.
    if (kept < params.count && generated >= budget / 4) {
      const projected = kept + (kept / generated) * (budget - generated);
      if (projected < params.count) throw exhausted();
    }
    await control.afterBatch?.({ generated, kept });
  }
  return { images, softLabels, kept, generated, perClass: perClass(), predicted };

  function perClass(): Record<string, number> {
    return Object.fromEntries(manifest.classes.map((id, i) => [String(id), keptPerColumn[i]!]));
  }

  function exhausted(): BudgetExhaustedError {
    const what = quota
      ? `per-class quotas ${JSON.stringify(Object.fromEntries(quota))}`
      : `${params.count} samples`;
    return new BudgetExhaustedError(
      `only ${kept} of ${generated} generated samples reached threshold ${params.threshold}` +
        ` with generator ${generator.name}; the budget of ${budget} candidates` +
        ` (${limits.maxAttemptsPerSample} per requested sample) cannot fill ${what}.` +
        ' Lower the threshold, ask for fewer samples or other classes' +
        (generator.targetsClasses
          ? '.'
          : ', or try a generator that aims at classes (generator=class-prior or class-mixture, see /v1/network).'),
      { requested: params.count, kept, generated, budget, perClass: perClass() },
    );
  }
}
