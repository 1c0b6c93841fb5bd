/**
 * Read a body (a Request's or a Response's, runtime-neutral: web streams) of at most
 * `maxBytes`: a larger Content-Length is refused before reading, and without one (or with a
 * lying one) the stream is cancelled as soon as it passes the cap, so no more than `maxBytes`
 * are ever kept, whatever the other side sends. Returns undefined when the body is over the
 * cap. The endpoint reads request bodies with it, the client response bodies.
 */
export async function readBounded(
  message: Pick<Request | Response, 'headers' | 'body'>,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const declared = message.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    await message.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!message.body) return new Uint8Array(0);
  const reader = message.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}
