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

/** Longest token accepted: far more than any real secret, far less than a header limit. */
const MAX_TOKEN_LENGTH = 1024;

/**
 * Why `token` cannot be carried by `Authorization: Bearer <token>` (so no client could ever
 * authenticate), or undefined when it can: a token is 1..1024 visible ASCII characters
 * (0x21-0x7e), no space, control or non-ASCII character.
 */
export function tokenProblem(token: string): string | undefined {
  const fix =
    'choose a token of visible ASCII characters, e.g. the output of `openssl rand -hex 32`';
  if (token.length === 0) return `the token is empty: ${fix}`;
  if (token.length > MAX_TOKEN_LENGTH)
    return `the token is ${token.length} characters, more than ${MAX_TOKEN_LENGTH}: ${fix}`;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code > 0x20 && code < 0x7f) continue;
    const what =
      code === 0x20
        ? 'a space'
        : code < 0x20 || code === 0x7f
          ? `a control character (U+${code.toString(16).padStart(4, '0').toUpperCase()})`
          : `a non-ASCII character (U+${code.toString(16).padStart(4, '0').toUpperCase()})`;
    return `the token has ${what} at position ${i + 1}, which an Authorization header cannot carry: ${fix}`;
  }
  return undefined;
}

/**
 * Bearer-token check. `expected` gives the token for this request's environment; when it
 * gives none (undefined or empty) the endpoint is open.
 */
export function bearerAuth(expected: (env: unknown) => string | undefined): MiddlewareHandler {
  return async (c, next) => {
    const want = expected(c.env);
    const problem = want ? tokenProblem(want) : undefined;
    if (problem) {
      // Configured with a token no request can carry: say so instead of refusing everyone.
      // The detail stays in the operator's start-up checks: nothing of the secret is echoed.
      throw apiError(
        503,
        'misconfigured',
        "this endpoint's AUTH_TOKEN cannot be carried by an Authorization header (empty, too long, or a space, control or non-ASCII character): its operator must set a token of visible ASCII characters",
      );
    }
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
