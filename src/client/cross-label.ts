import { z } from 'zod';
import { MAX_LABEL_COUNT } from '../core/api';
import {
  type CalibratedScorer,
  combineAnswers,
  createScorer,
  imagesTensor,
  type MemberAnswer,
  scoreImages,
} from '../core/calibration';
import type { ImageShape } from '../core/manifest';
import type { LoadedNetwork } from '../core/model-folder';
import type { NetworkInfo } from './endpoint';
import { ClientError } from './errors';
import { type EndpointAddress, mapPool, type RetryOptions } from './http';
import { fetchLabels } from './label';
import type { MergedSet } from './merge';

/**
 * Cross-labelling: every network is asked about every sample, not only the one that sent it.
 * A sender's classifier knows only its own classes, so it labels a sneaker-like sandal
 * "sandal, 0.99"; the fair ensemble of all networks (each calibrated on its own validation
 * slice, src/core/calibration) lets the sneaker's network claim it. Each sample's target
 * becomes (1 - w) x its sender's soft label + w x the fair ensemble's answer (normalised).
 * Only generated samples travel, so no network's real images leave it, except the target's
 * own (`MergedSet.real`), and those only with its owner's consent (src/client/run.ts) or not
 * at all at `realWeight` 0.
 * Measured in docs/RESULTS.md ("Cross-labelling, served"); the client's default recipe
 * applies it wherever every network is calibrated (src/client/cross-label-plan.ts).
 */
export interface LabelSource {
  /** The endpoint's URL, or `local:<network>` for the target's own folder. */
  name: string;
  networkId: string;
  classes: readonly number[];
  /** Images per call. */
  chunk: number;
  /** What the network says of n images (uint8 [n, H, W, C]). */
  answer(images: Uint8Array, n: number): Promise<MemberAnswer>;
}

/** An endpoint's `POST /v1/label` as a label source. */
export function endpointLabelSource(
  endpoint: EndpointAddress,
  info: NetworkInfo,
  retry: RetryOptions,
): LabelSource {
  if (!info.labels) {
    throw new ClientError(
      `${endpoint.url} (${info.networkId}) does not answer POST /v1/label: its network has no calibration.json. Calibrate it (npm run calibrate, or train with --validation-fraction) or fine-tune with --cross-label 0`,
    );
  }
  return {
    name: endpoint.url,
    networkId: info.networkId,
    classes: info.classes,
    chunk: Math.min(info.maxLabelCount ?? MAX_LABEL_COUNT, MAX_LABEL_COUNT),
    answer: (images, n) => fetchLabels(endpoint, info, images, n, retry),
  };
}

/** A calibrated classifier in-process as a label source (the caller disposes `scorer`). */
export function scorerLabelSource(
  networkId: string,
  scorer: CalibratedScorer,
  imageShape: ImageShape,
): LabelSource {
  return {
    name: `local:${networkId}`,
    networkId,
    classes: scorer.classes,
    chunk: 500,
    answer: async (images, n) => {
      const x = imagesTensor({ images, imageShape }, 0, n);
      try {
        return scoreImages(scorer, x);
      } finally {
        x.dispose();
      }
    },
  };
}

/**
 * The target's own calibration (its model folder's calibration.json), in-process: for when no
 * endpoint serves the target. Dispose it after use.
 */
export function localLabelSource(net: LoadedNetwork): LabelSource & { dispose(): void } {
  const { calibration, manifest } = net;
  if (!calibration) {
    throw new ClientError(
      `the target ${manifest.networkId} has no calibration.json in its folder: calibrate it (npm run calibrate) or fine-tune with --cross-label 0`,
    );
  }
  const scorer = createScorer(net.classifier, calibration);
  return {
    ...scorerLabelSource(manifest.networkId, scorer, manifest.dataset.imageShape),
    dispose: () => scorer.dispose(),
  };
}

/** Which samples cross-labelling mixes (see `CrossLabelOptions.scope`). */
export const CrossLabelScopeSchema = z.enum(['all', 'disputed']);
export type CrossLabelScope = z.infer<typeof CrossLabelScopeSchema>;

export interface CrossLabelOptions {
  /** w: the fair ensemble's share of each target (0..1). */
  weight: number;
  /**
   * Which samples are mixed: `all` (default), or `disputed`: only those whose fair-ensemble
   * top class belongs to another network than their sender's; a sample the ensemble leaves
   * with its sender's network keeps its sender's label unchanged. Every sample asked about
   * is sent to every source.
   */
  scope?: CrossLabelScope;
  /**
   * The fair ensemble's share for the set's real images (`MergedSet.real`: the target's own,
   * `--own-data`); default `weight`. At 0 they keep their labels and are sent to no source.
   */
  realWeight?: number;
  /** Label requests in flight per source. Default 2. */
  concurrency?: number;
  onProgress?: (p: { source: string; labelled: number; total: number }) => void;
}

/**
 * The merged set with every target mixed with the fair ensemble's answer, and how often the
 * fair ensemble's top class is the sender's (over the samples asked). Every class of the set
 * must be some source's.
 */
export async function crossLabel(
  set: MergedSet,
  sources: readonly LabelSource[],
  opts: CrossLabelOptions,
): Promise<{ set: MergedSet; agreement: number }> {
  const w = opts.weight;
  const wr = opts.realWeight ?? w;
  for (const x of [w, wr]) {
    if (!(x >= 0 && x <= 1)) throw new ClientError(`cross-label weight ${x} is not in 0..1`);
  }
  const covered = new Set(sources.flatMap((s) => s.classes));
  const missing = set.classes.filter((c) => !covered.has(c));
  if (missing.length > 0) {
    throw new ClientError(
      `cross-labelling needs every class's network: no label source knows class ${missing.join(', ')}`,
    );
  }
  const n = set.count;
  const [h, wd, c] = set.imageShape;
  const px = h * wd * c;
  // at real weight 0 the real images keep their labels and are never sent to any source
  const asked = wr === 0 && set.real ? indicesWhere(set.real, 0) : undefined;
  const m = asked ? asked.length : n;
  const images = asked ? gatherImages(set.images, px, asked) : set.images;
  const answers = await Promise.all(
    sources.map(async (src) => {
      const k = src.classes.length;
      const score = new Float32Array(m);
      const probabilities = new Float32Array(m * k);
      const starts = Array.from({ length: Math.ceil(m / src.chunk) }, (_, i) => i * src.chunk);
      let labelled = 0;
      await mapPool(starts, opts.concurrency ?? 2, async (s) => {
        const b = Math.min(src.chunk, m - s);
        const a = await src.answer(images.subarray(s * px, (s + b) * px), b);
        score.set(a.score, s);
        probabilities.set(a.probabilities, s * k);
        labelled += b;
        opts.onProgress?.({ source: src.name, labelled, total: m });
      });
      return { classes: src.classes, answer: { score, probabilities } };
    }),
  );
  const fair = combineAnswers(answers, m);
  const f = fair.classes.length;
  const u = set.classes.length;
  const cols = set.classes.map((cl) => fair.classes.indexOf(cl));
  // the network of each column (the first source that knows its class)
  const owner = set.classes.map((cl) => sources.find((s) => s.classes.includes(cl))!.networkId);
  const disputedOnly = opts.scope === 'disputed';
  const targets = Float32Array.from(set.targets);
  let agree = 0;
  for (let j = 0; j < m; j++) {
    const i = asked ? asked[j]! : j;
    let sum = 0;
    let sender = 0;
    let ensemble = 0;
    for (let k = 0; k < u; k++) {
      sum += fair.values[j * f + cols[k]!]!;
      if (set.targets[i * u + k]! > set.targets[i * u + sender]!) sender = k;
      if (fair.values[j * f + cols[k]!]! > fair.values[j * f + cols[ensemble]!]!) ensemble = k;
    }
    if (sender === ensemble) agree++;
    const weight = set.real?.[i] === 1 ? wr : w;
    const mix = disputedOnly && owner[sender] === owner[ensemble] ? 0 : weight;
    for (let k = 0; k < u; k++) {
      const fe = fair.values[j * f + cols[k]!]! / Math.max(sum, 1e-9);
      targets[i * u + k] = (1 - mix) * set.targets[i * u + k]! + mix * fe;
    }
  }
  return { set: { ...set, targets }, agreement: m === 0 ? 1 : agree / m };
}

function indicesWhere(flags: Uint8Array, value: number): Int32Array {
  let count = 0;
  for (const v of flags) if (v === value) count++;
  const out = new Int32Array(count);
  let j = 0;
  for (let i = 0; i < flags.length; i++) if (flags[i] === value) out[j++] = i;
  return out;
}

function gatherImages(images: Uint8Array, px: number, rows: Int32Array): Uint8Array {
  const out = new Uint8Array(rows.length * px);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j]!;
    out.set(images.subarray(r * px, (r + 1) * px), j * px);
  }
  return out;
}
