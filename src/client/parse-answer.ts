import type { z } from 'zod';
import { EndpointError } from './errors';

/**
 * An endpoint's JSON answer, parsed by its schema: the body is `unknown` until then. Not JSON,
 * or not of the schema: an EndpointError ('format') naming the request and the first issue.
 */
export function parseAnswer<S extends z.ZodType>(
  schema: S,
  body: Uint8Array,
  endpoint: string,
  request: string,
): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new EndpointError('format', endpoint, `${request} did not return JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EndpointError(
      'format',
      endpoint,
      `${request}: invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
