import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNetwork } from '../../src/core/model-folder';
import { decodePacket, encodePacket, type Packet, PacketFormatError } from '../../src/core/packet';
import { folderReader } from '../../src/node/fs-atomic';
import { initWasmBackend } from '../../src/node/wasm-backend';
import { createApp } from '../../src/worker/app';
import { createServedNetwork } from '../../src/worker/served-network';
import { writeTinyNetwork } from '../fixtures/tiny-network';

/**
 * The packet codec is strict: real packets, made by the real sampler on the tiny network and
 * served by the app, are mutated; every mutation must be refused with a PacketFormatError or
 * decode to the very same tensors.
 */
let real: Uint8Array[] = [];

beforeAll(async () => {
  await initWasmBackend();
  const { dir } = await writeTinyNetwork({ classes: [1, 3, 5] });
  const served = createServedNetwork(await loadNetwork(folderReader(dir)), {});
  const app = createApp({ network: async () => served, token: () => undefined });
  real = [];
  for (const q of [
    'count=12&seed=1&threshold=0',
    'count=9&seed=2&threshold=0&generator=class-prior',
  ]) {
    const res = await app.request(`/v1/packet?${q}`);
    expect(res.status).toBe(200);
    real.push(new Uint8Array(await res.arrayBuffer()));
  }
});

function headerOf(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))),
    data: bytes.subarray(8 + len),
  };
}

/** Packet bytes from a header object (padded to 8 as the encoder does) and a data region. */
function assemble(
  header: unknown,
  data: Uint8Array,
  prefix: Uint8Array = new Uint8Array(),
): Uint8Array {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + prefix.length + json.length) % 8)) % 8);
  const h = new Uint8Array([...prefix, ...new TextEncoder().encode(json)]);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

type Info = { dtype: string; shape: number[]; data_offsets: [number, number] };
function tensors(header: Record<string, unknown>) {
  return { images: header.images as Info, labels: header.soft_labels as Info };
}

const sameTensors = (a: Packet, b: Packet) =>
  a.imageShape.join() === b.imageShape.join() &&
  Buffer.compare(Buffer.from(a.images), Buffer.from(b.images)) === 0 &&
  Buffer.compare(
    Buffer.from(a.softLabels.buffer, a.softLabels.byteOffset, a.softLabels.byteLength),
    Buffer.from(b.softLabels.buffer, b.softLabels.byteOffset, b.softLabels.byteLength),
  ) === 0;

function expectRefused(bytes: Uint8Array, why: RegExp) {
  expect(() => decodePacket(bytes)).toThrow(PacketFormatError);
  expect(() => decodePacket(bytes)).toThrow(why);
}

describe('packet codec: the attacks found', () => {
  it('round-trips real packets byte for byte', () => {
    for (const bytes of real) {
      const p = decodePacket(bytes);
      expect(p.metadata.kept).toBeGreaterThan(0);
      expect(encodePacket(p)).toEqual(bytes);
    }
  });

  it('refuses overlapping tensors', () => {
    const { header, data } = headerOf(real[0]!);
    const { images, labels } = tensors(header);
    const l = labels.data_offsets[1];
    images.data_offsets = [l - 4, images.data_offsets[1] - 4];
    expectRefused(assemble(header, data.subarray(0, data.length - 4)), /tile the data exactly/);
  });

  it('refuses a gap between tensors and bytes after the last one', () => {
    const { header, data } = headerOf(real[0]!);
    const { images } = tensors(header);
    images.data_offsets = [images.data_offsets[0] + 8, images.data_offsets[1] + 8];
    const gapped = new Uint8Array(data.length + 8);
    gapped.set(data.subarray(0, images.data_offsets[0] - 8));
    gapped.set(data.subarray(images.data_offsets[0] - 8), images.data_offsets[0]);
    expectRefused(assemble(header, gapped), /tile the data exactly/);
    const trailing = new Uint8Array([...real[0]!, 0, 0, 0, 0]);
    expectRefused(trailing, /trailing bytes/);
  });

  it('refuses a header starting with a byte order mark', () => {
    const { header, data } = headerOf(real[0]!);
    expectRefused(
      assemble(header, data, new Uint8Array([0xef, 0xbb, 0xbf])),
      /does not start with "\{"/,
    );
  });

  it('refuses metadata that contradicts the data (perClass, generated, kept, threshold)', () => {
    const p = decodePacket(real[0]!);
    const m = p.metadata;
    const [a, b] = Object.keys(m.perClass).filter((id) => m.perClass[id]! > 0);
    const moved = {
      ...m.perClass,
      [a!]: m.perClass[a!]! - 1,
      [b ?? '1']: (m.perClass[b ?? '1'] ?? 0) + 1,
    };
    const patched = (patch: Record<string, unknown>) => {
      const { header, data } = headerOf(real[0]!);
      const meta = header.__metadata__ as Record<string, string>;
      for (const [k, v] of Object.entries(patch)) meta[k] = JSON.stringify(v);
      return assemble(header, data);
    };
    expectRefused(patched({ perClass: moved }), /metadata\.perClass\[\d\]=\d+ but \d+ samples/);
    expectRefused(patched({ perClass: { ...m.perClass, 7: 0 } }), /perClass names 7/);
    expectRefused(patched({ generated: m.kept - 1 }), /kept cannot exceed/);
    expectRefused(patched({ requested: m.kept - 1 }), /kept cannot exceed/);
    expectRefused(patched({ threshold: 0.999 }), /below metadata\.threshold/);
    expectRefused(patched({ classIds: [1, 1, 5] }), /repeat an id/);
  });

  it('refuses an image shape with a zero dimension', () => {
    const { header, data } = headerOf(real[0]!);
    const { images, labels } = tensors(header);
    images.shape = [images.shape[0]!, 0, 28, 1];
    images.data_offsets = [labels.data_offsets[1], labels.data_offsets[1]];
    expectRefused(assemble(header, data.subarray(0, labels.data_offsets[1])), /zero dimension/);
  });

  it('refuses unknown tensors and unknown tensor fields', () => {
    const { header, data } = headerOf(real[0]!);
    expectRefused(
      assemble({ ...header, extra: { dtype: 'U8', shape: [0], data_offsets: [0, 0] } }, data),
      /exactly/,
    );
    const h2 = headerOf(real[0]!).header;
    (h2.images as Record<string, unknown>).note = 'x';
    expectRefused(assemble(h2, data), /exactly/);
  });
});

/** Every leaf of a JSON value as a path; metadata strings are JSON text, so they are opened too. */
function leaves(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (v !== null && typeof v === 'object') {
    const out: (string | number)[][] = [path];
    for (const [k, x] of Object.entries(v))
      out.push(...leaves(x, [...path, Array.isArray(v) ? Number(k) : k]));
    return out;
  }
  return [path];
}

/** A structured mutation of the header: replace, delete or add at one path of the parsed header. */
function mutateHeader(
  bytes: Uint8Array,
  pick: number,
  op: 'replace' | 'delete' | 'add' | 'nudge',
  value: unknown,
): Uint8Array {
  const { header, data } = headerOf(bytes);
  const meta = header.__metadata__ as Record<string, string>;
  // open the metadata's JSON-text values so mutations reach inside them
  const opened: Record<string, unknown> = {
    ...header,
    __metadata__: Object.fromEntries(
      Object.entries(meta).map(([k, s]) => {
        try {
          return [k, { json: JSON.parse(s) }];
        } catch {
          return [k, { text: s }];
        }
      }),
    ),
  };
  const all = leaves(opened).filter((p) => p.length > 0);
  const path = all[pick % all.length]!;
  let parent: Record<string | number, unknown> = opened;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = path.at(-1)!;
  if (op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (op === 'add' && typeof parent === 'object') {
    if (Array.isArray(parent)) parent.push(value);
    else parent[`x${String(key)}`] = value;
  } else if (op === 'nudge' && typeof parent[key] === 'number') {
    parent[key] =
      (parent[key] as number) + (typeof value === 'number' && value !== 0 ? Math.sign(value) : 1);
  } else {
    parent[key] = value;
  }
  const closed = opened.__metadata__;
  if (closed === null || typeof closed !== 'object' || Array.isArray(closed)) {
    return assemble(opened, data); // __metadata__ itself was replaced or deleted
  }
  const restored: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(closed)) {
    const box = v as { json?: unknown; text?: unknown } | null;
    restored[k] =
      box && typeof box === 'object' && 'json' in box
        ? JSON.stringify(box.json)
        : box && typeof box === 'object' && 'text' in box
          ? box.text
          : v;
  }
  return assemble({ ...opened, __metadata__: restored }, data);
}

describe('packet codec: property-based mutations of real packets', () => {
  const stats = { refused: 0, same: 0 };
  const check = (original: Uint8Array, mutated: Uint8Array) => {
    let got: Packet;
    try {
      got = decodePacket(mutated);
    } catch (e) {
      if (!(e instanceof PacketFormatError)) throw e;
      stats.refused++;
      return;
    }
    if (!sameTensors(got, decodePacket(original))) {
      throw new Error('a mutated packet decoded to different tensors');
    }
    stats.same++;
  };
  const which = fc.integer({ min: 0, max: 1 });

  it('byte edits in the length prefix and header, insertions, deletions, truncations, extensions', () => {
    fc.assert(
      fc.property(
        which,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('set', 'insert', 'delete', 'truncate', 'extend'),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        (w, at, byte, op, extra) => {
          const original = real[w]!;
          const headerEnd =
            8 + Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0, true));
          const b = Array.from(original);
          if (op === 'set') {
            const i = at % headerEnd; // data bytes are raw pixels/floats: any value is a value
            if (b[i] === byte) return;
            b[i] = byte;
          } else if (op === 'insert') b.splice(at % (b.length + 1), 0, byte);
          else if (op === 'delete') b.splice(at % b.length, 1);
          else if (op === 'truncate') b.length = at % b.length;
          else b.push(...extra);
          check(original, new Uint8Array(b));
        },
      ),
      { numRuns: 1500, seed: 13 },
    );
  });

  it('structured edits of the header and metadata JSON', () => {
    const values = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.integer({ min: -2, max: 2 ** 33 }),
      fc.constantFrom(0, -1, 1, 1.5, '', 'U8', 'F32', 'F16', null, [], {}, 2 ** 53),
    );
    fc.assert(
      fc.property(
        which,
        fc.nat(),
        fc.constantFrom('replace', 'delete', 'add', 'nudge'),
        values,
        (w, pick, op, value) => {
          const original = real[w]!;
          check(original, mutateHeader(original, pick, op as 'replace', value));
        },
      ),
      { numRuns: 1500, seed: 13 },
    );
  });

  it('the properties saw both outcomes', () => {
    // Harmless edits (e.g. another seed, a networkId) decode to the same tensors; the rest are refused.
    expect(stats.refused).toBeGreaterThan(100);
    expect(stats.same).toBeGreaterThan(10);
  });
});
