/**
 * Read a body (a Request's or a Response's, runtime-neutral: web streams) of at most
 * `maxBytes`: a larger Content-Length is refused before reading, and without one (or with a
 * lying one) the stream is cancelled as soon as it passes the cap, so no more than `maxBytes`
 * are ever kept, whatever the other side sends. Returns undefined when the body is over the
 * cap. The endpoint reads request bodies with it, the client response bodies.
 *
 * `drainBytes` (a server's refusal): a body over the cap by at most this much is read to its
 * end and discarded before returning, so the sender has finished sending when the refusal is
 * answered. A server that answers while the client is still uploading and then closes can
 * reset the connection, and the client may lose the answer (seen with workerd behind
 * wrangler's dev proxy: a 413 whose JSON body arrived empty). Nothing drained is kept; a
 * larger body is still cancelled at once.
 */
export async function readBounded(
  message: Pick<Request | Response, 'headers' | 'body'>,
  maxBytes: number,
  drainBytes = 0,
): Promise<Uint8Array | undefined> {
  const declared = message.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    if (Number(declared) <= maxBytes + drainBytes && message.body) {
      await drain(message.body.getReader(), maxBytes + drainBytes);
    } else {
      await message.body?.cancel().catch(() => {});
    }
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
      await drain(reader, maxBytes + drainBytes - total);
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

/** Read and discard at most `budget` more bytes to the stream's end; cancel it beyond. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number) {
  let left = budget;
  try {
    while (left >= 0) {
      const { done, value } = await reader.read();
      if (done) return;
      left -= value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the sender went away: nothing left to drain
  }
}
