import { MAX_LABEL_COUNT, MAX_PACKET_COUNT, MAX_PREVIEW_COUNT } from '../core/api';
import { DEFAULT_SAMPLING_LIMITS, type SamplingLimits } from '../core/sampling';

/** Per-request bounds of an endpoint; published by `GET /v1/network`. */
export interface Limits extends SamplingLimits {
  /** Largest `count` of one packet request. */
  maxCount: number;
  /** `count` when the query has none. */
  defaultCount: number;
  /** `threshold` when the query has none. */
  defaultThreshold: number;
  /** Largest `count` of a preview image, and its default. */
  maxPreviewCount: number;
  defaultPreviewCount: number;
  /** Largest number of images one `POST /v1/label` request may send (1..MAX_LABEL_COUNT). */
  maxLabelCount: number;
  /** Packet/preview/label jobs running at once; they interleave batch by batch. */
  maxConcurrentPackets: number;
  /** Packet/preview/label requests waiting for a slot; one more is answered 503 + Retry-After. */
  maxQueuedPackets: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxCount: MAX_PACKET_COUNT,
  defaultCount: 256,
  defaultThreshold: 0.9,
  ...DEFAULT_SAMPLING_LIMITS,
  maxPreviewCount: MAX_PREVIEW_COUNT,
  defaultPreviewCount: 64,
  maxLabelCount: MAX_LABEL_COUNT,
  maxConcurrentPackets: 1,
  maxQueuedPackets: 8,
};
