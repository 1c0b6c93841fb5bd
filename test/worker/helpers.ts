import { expect } from 'vitest';
import { decodePacket, type Packet } from '../../src/core/packet';

export type Fetch = (path: string, init?: RequestInit) => Promise<Response>;

/** Parse a packet response and check the invariants every packet must hold. */
export async function readPacket(res: Response, threshold: number): Promise<Packet> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/octet-stream');
  expect(res.headers.get('content-disposition')).toMatch(
    /^attachment; filename=".+\.safetensors"$/,
  );
  const packet = decodePacket(new Uint8Array(await res.arrayBuffer()));
  const { metadata: m, softLabels, images, imageShape } = packet;
  const k = m.classIds.length;
  expect(m.kept).toBe(m.requested);
  expect(images.length).toBe(m.kept * imageShape[0] * imageShape[1] * imageShape[2]);
  expect(softLabels.length).toBe(m.kept * k);
  expect(m.generated).toBeGreaterThanOrEqual(m.kept);
  expect(Object.values(m.perClass).reduce((a, b) => a + b, 0)).toBe(m.kept);
  for (let i = 0; i < m.kept; i++) {
    const row = softLabels.subarray(i * k, (i + 1) * k);
    expect(Math.max(...row)).toBeGreaterThanOrEqual(threshold);
  }
  return packet;
}

/** The median max soft label of a threshold-0 packet: a threshold that filters about half. */
export function medianConfidence(fetch: Fetch): Promise<number> {
  return confidenceQuantile(fetch, 0.5);
}

/** The q-quantile of the max soft labels of a threshold-0 packet: keeps about 1 - q. */
export async function confidenceQuantile(fetch: Fetch, q: number): Promise<number> {
  const res = await fetch('/v1/packet?count=128&seed=1&threshold=0');
  const p = await readPacket(res, 0);
  const k = p.metadata.classIds.length;
  const maxes: number[] = [];
  for (let i = 0; i < p.metadata.kept; i++) {
    maxes.push(Math.max(...p.softLabels.subarray(i * k, (i + 1) * k)));
  }
  maxes.sort((a, b) => a - b);
  // 8 decimals: an untrained tiny network's confidences lie within 1e-4 of each other.
  return Math.floor(maxes[Math.floor(maxes.length * q)]! * 1e8) / 1e8;
}

/** Requests built from the documented parameters, malformed in every way we could think of. */
export const BAD_QUERIES: [string, number, string][] = [
  ['/v1/packet?count=0', 400, 'count'],
  ['/v1/packet?count=1025', 400, 'count'],
  ['/v1/packet?count=abc', 400, 'count'],
  ['/v1/packet?count=-3', 400, 'count'],
  ['/v1/packet?count=1.5', 400, 'count'],
  ['/v1/packet?count=99999999999999999999', 400, 'count'],
  ['/v1/packet?count=', 400, 'count'],
  ['/v1/packet?count=1&count=2', 400, 'count'],
  ['/v1/packet?seed=-1', 400, 'seed'],
  ['/v1/packet?seed=4294967296', 400, 'seed'],
  ['/v1/packet?seed=0x10', 400, 'seed'],
  ['/v1/packet?threshold=1.5', 400, 'threshold'],
  ['/v1/packet?threshold=-0.1', 400, 'threshold'],
  ['/v1/packet?threshold=NaN', 400, 'threshold'],
  ['/v1/packet?threshold=1e-3', 400, 'threshold'],
  ['/v1/packet?classes=7', 400, 'classes'],
  ['/v1/packet?classes=1,1', 400, 'classes'],
  ['/v1/packet?classes=one', 400, 'classes'],
  ['/v1/packet?classes=', 400, 'classes'],
  ['/v1/packet?generator=nope', 400, 'generator'],
  ['/v1/packet?generator=VAE!', 400, 'generator'],
  ['/v1/packet?foo=1', 400, 'foo'],
  ['/v1/packet?count=2&seed=1&bogus', 400, 'bogus'],
  ['/v1/preview.png?count=257', 400, 'count'],
  ['/v1/preview.png?classes=9', 400, 'classes'],
  ['/v1/nope', 404, 'not_found'],
  ['/', 404, 'not_found'],
  ['/v1/packet/extra', 404, 'not_found'],
];

export async function expectJsonError(res: Response, status: number, mention: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as {
    error: { code: string; message: string; issues?: { path: string }[] };
  };
  expect(typeof body.error.code).toBe('string');
  expect(typeof body.error.message).toBe('string');
  const text = JSON.stringify(body.error);
  expect(text).toContain(mention);
  return body;
}
