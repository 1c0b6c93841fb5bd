/** Per-request bounds of an endpoint; published by `GET /v1/network`. */
export interface Limits {
  /** Largest `count` of one packet request. */
  maxCount: number;
  /** `count` when the query has none. */
  defaultCount: number;
  /** `threshold` when the query has none. */
  defaultThreshold: number;
  /** A request may generate at most `count * maxAttemptsPerSample` candidates. */
  maxAttemptsPerSample: number;
  /** Candidates decoded and classified per batch. */
  batchSize: number;
  /** Largest `count` of a preview image, and its default. */
  maxPreviewCount: number;
  defaultPreviewCount: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxCount: 1024,
  defaultCount: 256,
  defaultThreshold: 0.9,
  maxAttemptsPerSample: 8,
  batchSize: 128,
  maxPreviewCount: 256,
  defaultPreviewCount: 64,
};
