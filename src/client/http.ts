import { readBounded } from '../core/bounded-read';
import { createRng } from '../core/rng';
import { EndpointError } from './errors';

/** Where an endpoint is and how to be let in: its base URL and bearer token. */
export interface EndpointAddress {
  /** Base URL, e.g. http://127.0.0.1:8787 (no trailing /v1). */
  url: string;
  /** Bearer token, when the endpoint requires one. */
  token?: string | undefined;
}

/** @deprecated Renamed `EndpointAddress` (a URL and a token, not the endpoint itself). */
export type Endpoint = EndpointAddress;

export interface RetryOptions {
  /** Per-request timeout in ms (covers connect + the whole body). Default 60 000. */
  timeoutMs?: number;
  /** Retries after the first try, on network errors, timeouts and 5xx only. Default 4. */
  retries?: number;
  /** First backoff in ms; doubles each retry, with seeded jitter of up to +50 %. Default 250. */
  backoffMs?: number;
  /** Upper bound of a single backoff. Default 5 000. */
  maxBackoffMs?: number;
  /** Cancels everything (requests in flight and pending backoffs). */
  signal?: AbortSignal | undefined;
  /** Injected fetch (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Largest body accepted (bytes); more is refused without reading it. Default 1 MiB. */
  maxBytes?: number;
  /** Called before each retry. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; error: EndpointError }) => void;
}

/** Parse `URL` or `URL@TOKEN` (token after the last `@` that follows the host). */
export function parseEndpointAddress(spec: string): EndpointAddress {
  const m = /^(https?:\/\/[^@\s]+?)(?:@([^@\s/]+))?$/.exec(spec.trim());
  if (!m) throw new Error(`endpoint "${spec}": want http(s)://host[:port][@token]`);
  return { url: m[1]!.replace(/\/+$/, ''), token: m[2] };
}

/** @deprecated Renamed `parseEndpointAddress`. */
export const parseEndpoint = parseEndpointAddress;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Largest error body read, to quote the endpoint's message. */
const ERROR_BODY_LIMIT = 4096;
/** Default cap of a response body when the caller gives none (e.g. GET /v1/network). */
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

async function errorText(res: Response): Promise<string> {
  try {
    const bytes = (await readBounded(res, ERROR_BODY_LIMIT)) ?? new Uint8Array(0);
    const text = new TextDecoder().decode(bytes);
    try {
      const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (j.error?.message) return `${j.error.code ?? 'error'}: ${j.error.message}`;
    } catch {}
    return text.slice(0, 200);
  } catch {
    return '';
  }
}

/** A request beside GET: POST of an idempotent computation (so retrying it is safe). */
export interface RequestBody {
  method: 'POST';
  body: Uint8Array;
  contentType: string;
}

/**
 * GET `path` from an endpoint and return the whole body (at most `maxBytes`). One timeout per try (AbortSignal),
 * retries with exponential backoff on network errors, timeouts and 5xx; a 4xx fails at once.
 * Jitter is seeded by `seed` so runs are reproducible.
 */
export function getWithRetry(
  endpoint: EndpointAddress,
  path: string,
  opts: RetryOptions & { seed?: number } = {},
): Promise<{ body: Uint8Array; headers: Headers }> {
  return requestWithRetry(endpoint, path, opts);
}

/** `getWithRetry`, or with `send` a POST of an idempotent computation (same retries). */
export async function requestWithRetry(
  endpoint: EndpointAddress,
  path: string,
  opts: RetryOptions & { seed?: number } = {},
  send?: RequestBody,
): Promise<{ body: Uint8Array; headers: Headers }> {
  const method = send?.method ?? 'GET';
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const retries = opts.retries ?? 4;
  const base = opts.backoffMs ?? 250;
  const maxBackoff = opts.maxBackoffMs ?? 5_000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const rng = createRng((opts.seed ?? 0) >>> 0);
  const url = `${endpoint.url}${path}`;
  const headers: Record<string, string> = {};
  if (endpoint.token) headers.authorization = `Bearer ${endpoint.token}`;
  if (send) headers['content-type'] = send.contentType;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted)
      throw new EndpointError('aborted', endpoint.url, `${method} ${path} aborted`);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let error: EndpointError;
    try {
      const res = await doFetch(url, {
        method,
        headers,
        signal,
        ...(send ? { body: send.body as Uint8Array<ArrayBuffer> } : {}),
      });
      if (res.ok) {
        const body = await readBounded(res, maxBytes);
        if (body === undefined) {
          throw new EndpointError(
            'format',
            endpoint.url,
            `${method} ${path}: the body is larger than ${maxBytes} bytes, the most this request can produce (Content-Length ${res.headers.get('content-length') ?? 'not given'}); refused without reading it`,
            { hint: 'the endpoint is broken or hostile: check its URL and what it serves' },
          );
        }
        const declared = res.headers.get('content-length');
        if (declared !== null && Number(declared) !== body.length) {
          throw new EndpointError(
            'format',
            endpoint.url,
            `${method} ${path}: body is ${body.length} bytes but Content-Length says ${declared} (truncated)`,
          );
        }
        return { body, headers: res.headers };
      }
      const detail = `${method} ${path} -> HTTP ${res.status} ${await errorText(res)}`.trim();
      if (res.status === 401 || res.status === 403) {
        throw new EndpointError('unauthorized', endpoint.url, detail, { status: res.status });
      }
      if (res.status < 500) {
        throw new EndpointError('bad-request', endpoint.url, detail, { status: res.status });
      }
      error = new EndpointError('server-error', endpoint.url, detail, { status: res.status });
    } catch (e) {
      if (e instanceof EndpointError) {
        if (!e.retryable) throw e;
        error = e;
      } else if (opts.signal?.aborted) {
        throw new EndpointError('aborted', endpoint.url, `${method} ${path} aborted`, { cause: e });
      } else if (timeout.aborted) {
        error = new EndpointError(
          'timeout',
          endpoint.url,
          `${method} ${path}: no complete answer within ${timeoutMs} ms`,
          { cause: e },
        );
      } else {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (e as Error).message;
        // A body cut off mid-stream surfaces as a network error too: also retryable.
        error = new EndpointError(
          'unreachable',
          endpoint.url,
          `${method} ${path} failed (${why})`,
          {
            cause: e,
          },
        );
      }
    }
    if (attempt >= retries) {
      throw new EndpointError(
        error.code,
        endpoint.url,
        `${error.message.slice(endpoint.url.length + 2).split(' — ')[0]} (after ${attempt + 1} tries)`,
        { cause: error, ...(error.status === undefined ? {} : { status: error.status }) },
      );
    }
    const delayMs = Math.min(maxBackoff, base * 2 ** attempt * (1 + 0.5 * rng.next()));
    opts.onRetry?.({ url, attempt: attempt + 1, delayMs, error });
    try {
      await sleep(delayMs, opts.signal);
    } catch (e) {
      throw new EndpointError('aborted', endpoint.url, `${method} ${path} aborted`, { cause: e });
    }
  }
}

/** Run `tasks` with at most `limit` in flight; results in task order. Stops at the first error. */
export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  let hasFailed = false;
  const worker = async () => {
    while (!hasFailed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        if (!hasFailed) {
          hasFailed = true;
          failed = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (hasFailed) throw failed;
  return out;
}
