import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** One problem with a request, e.g. a query parameter: `path` names it. */
export interface Issue {
  path: string;
  code: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; issues?: Issue[] };
}

/** The one error shape of the API, thrown from anywhere and rendered by `onError`. */
export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  opts: {
    issues?: Issue[];
    headers?: Record<string, string>;
    detail?: Record<string, unknown>;
  } = {},
): HTTPException {
  const body: ErrorBody & { error: Record<string, unknown> } = {
    error: { code, message, ...(opts.issues ? { issues: opts.issues } : {}), ...opts.detail },
  };
  return new HTTPException(status, {
    message,
    res: new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...opts.headers },
    }),
  });
}

/** Zod issues as API issues. */
export function toIssues(
  issues: readonly {
    path: readonly PropertyKey[];
    code: string;
    message: string;
    keys?: readonly string[];
  }[],
): Issue[] {
  return issues.map((i) =>
    i.code === 'unrecognized_keys' && i.keys
      ? {
          path: i.keys.join(','),
          code: 'unknown_parameter',
          message: `unknown parameter${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`,
        }
      : { path: i.path.map(String).join('.') || '(query)', code: i.code, message: i.message },
  );
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get('content-type')?.includes('application/json')) return res;
    // An HTTPException from Hono itself (e.g. a malformed header): same shape.
    return apiError(
      err.status as ContentfulStatusCode,
      'bad_request',
      err.message || 'bad request',
    ).getResponse();
  }
  console.error(`${c.req.method} ${c.req.path}:`, err);
  return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
}

export function notFound(c: Context): Response {
  return apiError(
    404,
    'not_found',
    `no route ${c.req.path}; see GET /v1/network, /v1/packet, /v1/preview.png, /healthz, POST /v1/label`,
  ).getResponse();
}
