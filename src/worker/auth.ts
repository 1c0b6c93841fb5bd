import type { MiddlewareHandler } from 'hono';
import { apiError } from './errors';

/** Constant-time equality of two strings: compares their SHA-256 digests byte by byte. */
export async function tokensEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', enc.encode(a)),
    crypto.subtle.digest('SHA-256', enc.encode(b)),
  ]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/**
 * Bearer-token check. `expected` gives the token for this request's environment; when it
 * gives none (undefined or empty) the endpoint is open.
 */
export function bearerAuth(expected: (env: unknown) => string | undefined): MiddlewareHandler {
  return async (c, next) => {
    const want = expected(c.env);
    if (want) {
      const header = c.req.header('authorization') ?? '';
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
      const ok = match ? await tokensEqual(match[1]!, want) : false;
      if (!ok) {
        throw apiError(
          401,
          'unauthorized',
          match
            ? 'the bearer token is not valid for this network'
            : 'this network needs a bearer token: send Authorization: Bearer <token>',
          { headers: { 'www-authenticate': 'Bearer realm="knowledge-packets"' } },
        );
      }
    }
    await next();
  };
}
