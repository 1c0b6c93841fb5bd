import type * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { CrossLabelScope } from './cross-label';
import type { CrossLabelSetting } from './cross-label-plan';
import type { NetworkInfo } from './endpoint';
import type { Evaluation, LabelledImages } from './evaluate';
import type { EpochInfo, FinetuneSchedule } from './finetune';
import type { EndpointAddress, RetryOptions } from './http';
import type { BalanceSetting, GeneratorSetting } from './recipe';

/** What the target's own images teach (`RunClientOptions.ownImagesLoss`). */
export const OwnImagesLossSchema = z.enum(['all-classes', 'own-classes']);
export type OwnImagesLoss = z.infer<typeof OwnImagesLossSchema>;

/** What `runClient` takes, tells while it runs, and returns (run.ts). */
export type ClientEvent =
  | { kind: 'network'; info: NetworkInfo }
  | { kind: 'download'; endpoint: string; kept: number; wanted: number; chunks: number }
  | { kind: 'retry'; url: string; attempt: number; delayMs: number; message: string }
  | { kind: 'replay'; source: string; count: number }
  | { kind: 'merged'; count: number; classes: number[] }
  | { kind: 'label'; source: string; labelled: number; total: number }
  | { kind: 'cross-labelled'; count: number; agreement: number }
  | { kind: 'cross-label-skipped'; reason: string }
  /** Balanced quotas ('auto') the endpoint could not fill: fetched without them instead. */
  | { kind: 'balance-dropped'; endpoint: string; message: string }
  | { kind: 'batch'; epoch: number; batch: number; batches: number; loss: number }
  | ({ kind: 'epoch' } & EpochInfo)
  | { kind: 'evaluated'; which: 'target' | 'merged'; accuracy: number }
  | { kind: 'saved'; dir: string };

export interface RunClientOptions extends RetryOptions {
  endpoints: readonly EndpointAddress[];
  /** The target network's model folder (its classifier is fine-tuned; nothing there is changed). */
  targetDir: string;
  /** Save the merged classifier here (atomically). */
  outDir?: string | undefined;
  /** Network id of the saved folder; default `<target>-merged`. */
  outNetworkId?: string | undefined;
  /** Samples to fetch from each endpoint (after the threshold). */
  samplesPerNetwork?: number;
  /** Or: samples per class of each endpoint's network (the paper: 5000); wins when set. */
  samplesPerClass?: number | undefined;
  /**
   * Samples of the target's own replay set. Taken from an endpoint that serves the target
   * itself (same network id and digest) when one is listed, else generated locally from the
   * target's folder. Default: samplesPerNetwork; 0 turns replay off.
   */
  replaySamples?: number | undefined;
  /**
   * Keep samples whose top soft label reaches this; 'auto': the default recipe's
   * (`crossLabelThreshold` while cross-labelling, else `threshold`). Absent: 0.
   */
  threshold?: number | 'auto' | undefined;
  seed: number;
  chunkSize?: number;
  /** Packet requests in flight across all endpoints. Default 4. */
  concurrency?: number;
  /**
   * A generator's name (asked of every endpoint), absent (each endpoint's default), or 'auto':
   * per endpoint the recipe's preferred generator where offered, else its default
   * (src/client/generator-choice.ts).
   */
  generator?: GeneratorSetting | undefined;
  /**
   * Ask each endpoint for equal per-class quotas (`classes=` all its classes), which is how
   * "N samples per class" is reached with an unconditional generator: the endpoint keeps
   * generating until every class (by the classifier's argmax) has its share. A generator
   * that rarely makes some class exhausts the endpoint's attempt budget (HTTP 422), so this
   * is off when absent: samples then follow the generator's own class mix. 'auto': on where
   * the chosen generator makes samples of a requested class.
   */
  balanceClasses?: BalanceSetting | undefined;
  allowOverlap?: boolean;
  schedule?: Partial<FinetuneSchedule>;
  /** Soft labels p^(1/T), renormalised, for every source (default 1: as sent). */
  labelTemperature?: number | undefined;
  /**
   * Every fine-tuning epoch on new samples: `epochs` times the samples are fetched (new
   * seeds) and the schedule makes one pass over them, so no sample is seen twice; the
   * learning-rate schedule over the steps is the same.
   */
  freshSamples?: boolean | undefined;
  /**
   * The target's own real training images (labels = class ids). When given they stand in
   * for its generated replay, with one-hot labels. The paper's protocol uses replay.
   */
  ownImages?: LabelledImages | undefined;
  /**
   * With `ownImages`: add this many blends per own image, each a mix of one own image and one
   * generated sample (src/client/blend.ts); they count as own images for cross-labelling and
   * consent. 0 or absent: none.
   */
  ownBlends?: number | undefined;
  /**
   * With `ownImages`: what they teach. `all-classes` (default): their labels over the union,
   * like every sample. `own-classes`: only which of the target's classes each one is (the
   * loss renormalised over those columns), so that they never teach "real-looking means one
   * of mine"; the boundary with the other networks' classes is then learned from generated
   * samples alone, the target's replay among them (kept by default). Their cross-label weight
   * defaults to 0, so they are sent nowhere.
   */
  ownImagesLoss?: OwnImagesLoss | undefined;
  /**
   * With `ownImages`: keep the target's generated replay beside them (default: they replace
   * it, except with `ownImagesLoss: 'own-classes'`, which keeps it).
   */
  keepReplay?: boolean | undefined;
  /**
   * Let cross-labelling send `ownImages` to the other networks' endpoints (`POST /v1/label`)
   * so that every network labels them too. Off (default): with `ownImages` and
   * cross-labelling on, the client refuses to start unless `crossLabelOwn` is 0, which keeps
   * them here with their own labels.
   */
  shareOwnImages?: boolean | undefined;
  /**
   * The fair ensemble's share in the labels of `ownImages` (0..1; default: the cross-label
   * weight). 0: they keep their one-hot labels and are sent nowhere.
   */
  crossLabelOwn?: number | undefined;
  /**
   * Cross-labelling (src/client/cross-label.ts): weight w in 0..1 (0 or absent: off), or
   * 'auto' (the default recipe's weight when every network is calibrated, else off). Every
   * sample's target becomes (1 - w) x its sender's soft label + w x the fair ensemble's
   * answer, each network's calibrated answer asked of its endpoint (`POST /v1/label`), the
   * target's own from its folder's calibration.json when no endpoint serves it.
   */
  crossLabel?: CrossLabelSetting | undefined;
  /**
   * Which samples cross-labelling mixes: `all` (default), or `disputed`, only those whose
   * fair-ensemble top class belongs to another network than their sender's.
   */
  crossLabelScope?: CrossLabelScope | undefined;
  /** Evaluate the target before and the merged classifier after on this set. */
  test?: LabelledImages | undefined;
  onEvent?: (e: ClientEvent) => void;
}

export interface RunClientResult {
  targetId: string;
  classes: number[];
  sources: { source: string; networkId: string; count: number }[];
  history: EpochInfo[];
  /** What was used (what each 'auto' resolved to). */
  settings: {
    threshold: number;
    crossLabel: number;
    crossLabelScope: CrossLabelScope;
    /** With `ownImages` and cross-labelling: the weight their labels were mixed at. */
    crossLabelOwn?: number;
    /** Per network: the generator asked of it and whether with balanced quotas. */
    generators: Record<string, { generator: string; balance: boolean }>;
  };
  /** With cross-labelling: how often the fair ensemble's top class was the sender's. */
  crossLabelAgreement?: number;
  target?: Evaluation;
  merged?: Evaluation;
  savedTo?: string;
  /** The fine-tuned classifier (columns = classes); the caller disposes it. */
  model: tfl.LayersModel;
  seconds: { fetch: number; finetune: number; total: number };
}
