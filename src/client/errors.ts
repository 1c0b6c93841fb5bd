/**
 * Typed client errors. Every error names the endpoint it came from and says what to do
 * (`hint`), so a CLI can print `message` as is.
 */
export type EndpointErrorCode =
  /** Connection refused / DNS / reset: nothing answered. */
  | 'unreachable'
  /** No answer within the per-request timeout. */
  | 'timeout'
  /** 401/403: a token is missing or wrong. */
  | 'unauthorized'
  /** Another 4xx: the request itself is wrong; retrying will not help. */
  | 'bad-request'
  /** 5xx after every retry. */
  | 'server-error'
  /** Body is not a valid packet / network description (truncated, wrong schema, version). */
  | 'format'
  /** Packet made by a different model than the one `/v1/network` describes. */
  | 'digest-mismatch'
  /** Class ids that do not belong to the network, or that another network also claims. */
  | 'class-clash'
  /** Image shape differs from the target network's. */
  | 'shape-mismatch'
  /** The caller aborted. */
  | 'aborted';

const HINTS: Record<EndpointErrorCode, string> = {
  unreachable: 'check that the endpoint is running and the URL is right (try GET <url>/healthz)',
  timeout: 'the endpoint is slow or stuck: raise --timeout, lower --chunk-size, or retry later',
  unauthorized: 'pass the endpoint token (URL@TOKEN on the command line, or token in the API)',
  'bad-request':
    'fix the request parameters (count, threshold, classes, generator); see docs/API.md',
  'server-error': 'the endpoint failed repeatedly: look at its logs, then retry',
  format:
    'the endpoint serves a different or broken packet format: update client and endpoint to the same version',
  'digest-mismatch':
    'the endpoint changed its model while we were fetching (or a cache served stale bytes): retry, or purge the cache',
  'class-clash':
    'two networks claim the same class id, or a packet holds classes its network does not know: fix the class partition or restrict with classes=',
  'shape-mismatch': 'the networks were trained on different image shapes and cannot be merged',
  aborted: 'the operation was cancelled',
};

export class EndpointError extends Error {
  override name = 'EndpointError';
  readonly hint: string;
  constructor(
    readonly code: EndpointErrorCode,
    readonly endpoint: string,
    detail: string,
    opts: { status?: number; cause?: unknown; hint?: string } = {},
  ) {
    const hint = opts.hint ?? HINTS[code];
    super(
      `${endpoint}: ${detail} — ${hint}`,
      opts.cause === undefined ? {} : { cause: opts.cause },
    );
    this.hint = hint;
    if (opts.status !== undefined) this.status = opts.status;
  }
  status?: number;

  get retryable(): boolean {
    return this.code === 'unreachable' || this.code === 'timeout' || this.code === 'server-error';
  }
}

/** Errors of the client's own inputs (target folder, options), not of an endpoint. */
export class ClientError extends Error {
  override name = 'ClientError';
}
