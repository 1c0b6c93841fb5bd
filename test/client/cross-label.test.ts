import { describe, expect, it } from 'vitest';
import { crossLabel, type LabelSource } from '../../src/client/cross-label';
import type { NetworkInfo } from '../../src/client/endpoint';
import { ClientError, EndpointError } from '../../src/client/errors';
import { fetchLabels } from '../../src/client/label';
import type { MergedSet } from '../../src/client/merge';
import type { MemberAnswer } from '../../src/core/calibration';

const shape: [number, number, number] = [2, 2, 1];

/** 4 samples over classes 0,1 (network a) and 2 (network b); image i is filled with i. */
function set(): MergedSet {
  const n = 4;
  const images = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) images.fill(i, i * 4, i * 4 + 4);
  // senders: samples 0,1 from a (class 0, class 1), samples 2,3 from b (class 2)
  const targets = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1]);
  return { classes: [0, 1, 2], imageShape: shape, count: n, images, targets, sources: [] };
}

/** A source whose answer for image i is looked up by the image's first pixel. */
function source(
  name: string,
  classes: number[],
  rows: { score: number; p: number[] }[],
  chunk = 3,
): LabelSource & { calls: number[] } {
  const calls: number[] = [];
  return {
    name,
    networkId: name,
    classes,
    chunk,
    calls,
    answer: async (images, n): Promise<MemberAnswer> => {
      calls.push(n);
      expect(images.length).toBe(n * 4);
      const score = new Float32Array(n);
      const probabilities = new Float32Array(n * classes.length);
      for (let i = 0; i < n; i++) {
        const row = rows[images[i * 4]!]!;
        score[i] = row.score;
        probabilities.set(row.p, i * classes.length);
      }
      return { score, probabilities };
    },
  };
}

describe('cross-labelling', () => {
  // a: sure of its own samples 0,1; thinks sample 3 looks like its class 1 (score 0.9)
  const a = source(
    'a',
    [0, 1],
    [
      { score: 0.8, p: [0.9, 0.1] },
      { score: 0.7, p: [0.2, 0.8] },
      { score: 0.1, p: [0.5, 0.5] },
      { score: 0.9, p: [0.1, 0.9] },
    ],
  );
  // b: knows only class 2; sample 3 looks a little like its own (score 0.3)
  const b = source(
    'b',
    [2],
    [
      { score: 0.1, p: [1] },
      { score: 0.1, p: [1] },
      { score: 0.9, p: [1] },
      { score: 0.3, p: [1] },
    ],
  );

  it('mixes each target with the normalised fair ensemble at weight w, chunk by chunk', async () => {
    const input = set();
    const before = Array.from(input.targets);
    const { set: out, agreement } = await crossLabel(input, [a, b], { weight: 0.5 });
    expect(a.calls).toEqual([3, 1]);
    // sample 3: fair = [0.9*0.1, 0.9*0.9, 0.3*1] = [0.09, 0.81, 0.3] / 1.2
    const fe = [0.09 / 1.2, 0.81 / 1.2, 0.3 / 1.2];
    const row3 = Array.from(out.targets.subarray(9, 12));
    row3.forEach((v, k) => {
      expect(v).toBeCloseTo(0.5 * [0, 0, 1][k]! + 0.5 * fe[k]!, 6);
    });
    // every row still sums to 1
    for (let i = 0; i < 4; i++) {
      const s = out.targets.subarray(i * 3, i * 3 + 3).reduce((x, y) => x + y, 0);
      expect(s).toBeCloseTo(1, 6);
    }
    // the fair ensemble agrees with the sender on samples 0, 1, 2, not on 3
    expect(agreement).toBe(0.75);
    // the input set is left as it was
    expect(Array.from(input.targets)).toEqual(before);
  });

  it("scope 'disputed' mixes only samples the ensemble gives to another network", async () => {
    const input = set();
    const { set: out, agreement } = await crossLabel(input, [a, b], {
      weight: 0.5,
      scope: 'disputed',
    });
    // samples 0-2: the ensemble's top class is the sender network's own: labels as sent
    expect(Array.from(out.targets.subarray(0, 9))).toEqual(
      Array.from(input.targets.subarray(0, 9)),
    );
    // sample 3 (sent by b, class 2; the ensemble says a's class 1): mixed as with scope 'all'
    const all = await crossLabel(set(), [a, b], { weight: 0.5 });
    Array.from(out.targets.subarray(9, 12)).forEach((v, k) => {
      expect(v).toBeCloseTo(all.set.targets[9 + k]!, 6);
    });
    expect(agreement).toBe(0.75);
  });

  it("scope 'disputed' keeps a sample whose top class is another class of its sender", async () => {
    // sample 0 sent by a as class 0; the ensemble says a's class 1: same network, kept
    const flip = source(
      'a',
      [0, 1],
      [{ score: 0.8, p: [0.2, 0.8] }, ...Array(3).fill({ score: 0.8, p: [0.5, 0.5] })],
    );
    const quiet = source('b', [2], Array(4).fill({ score: 0.01, p: [1] }));
    const input = set();
    const { set: out, agreement } = await crossLabel(input, [flip, quiet], {
      weight: 0.5,
      scope: 'disputed',
    });
    expect(Array.from(out.targets.subarray(0, 3))).toEqual([1, 0, 0]);
    expect(agreement).toBeLessThan(1);
  });

  it('real weight 0: real images keep their labels, are never sent, the rest are mixed', async () => {
    // samples 1 and 3 are real images (the target's own); 0 and 2 were generated
    const input = { ...set(), real: Uint8Array.from([0, 1, 0, 1]) };
    const seen: number[] = [];
    const spy = (src: LabelSource): LabelSource => ({
      ...src,
      answer: (images, n) => {
        for (let i = 0; i < n; i++) seen.push(images[i * 4]!);
        return src.answer(images, n);
      },
    });
    const { set: out, agreement } = await crossLabel(input, [spy(a), spy(b)], {
      weight: 0.5,
      realWeight: 0,
    });
    // only the generated samples' pixels left the client (image i is filled with i)
    expect([...new Set(seen)].sort()).toEqual([0, 2]);
    const all = await crossLabel(set(), [a, b], { weight: 0.5 });
    for (const i of [1, 3]) {
      expect(Array.from(out.targets.subarray(i * 3, i * 3 + 3))).toEqual(
        Array.from(input.targets.subarray(i * 3, i * 3 + 3)),
      );
    }
    for (const i of [0, 2]) {
      Array.from(out.targets.subarray(i * 3, i * 3 + 3)).forEach((v, k) => {
        expect(v).toBeCloseTo(all.set.targets[i * 3 + k]!, 6);
      });
    }
    // agreement over the samples asked: the ensemble agrees on 0 and 2
    expect(agreement).toBe(1);
    // a set with no real images: every sample is asked and mixed at `weight`
    const none = await crossLabel(set(), [a, b], { weight: 0.5, realWeight: 0 });
    expect(Array.from(none.set.targets)).toEqual(Array.from(all.set.targets));
  });

  it('a real weight of its own mixes real images at that weight', async () => {
    const input = { ...set(), real: Uint8Array.from([0, 0, 0, 1]) };
    const { set: out } = await crossLabel(input, [a, b], { weight: 0.5, realWeight: 1 });
    // sample 3 (real): the fair ensemble alone, [0.09, 0.81, 0.3] / 1.2
    Array.from(out.targets.subarray(9, 12)).forEach((v, k) => {
      expect(v).toBeCloseTo([0.09 / 1.2, 0.81 / 1.2, 0.3 / 1.2][k]!, 6);
    });
    const all = await crossLabel(set(), [a, b], { weight: 0.5 });
    expect(Array.from(out.targets.subarray(0, 9))).toEqual(
      Array.from(all.set.targets.subarray(0, 9)),
    );
    await expect(crossLabel(input, [a, b], { weight: 0.5, realWeight: 2 })).rejects.toThrow(
      /weight 2 is not in 0..1/,
    );
  });

  it('weight 0 leaves every target as sent', async () => {
    const s = set();
    const { set: out } = await crossLabel(s, [a, b], { weight: 0 });
    expect(Array.from(out.targets)).toEqual(Array.from(s.targets));
  });

  it('refuses a class no source knows, and a weight outside 0..1', async () => {
    await expect(crossLabel(set(), [a], { weight: 0.5 })).rejects.toThrow(
      /no label source knows class 2/,
    );
    await expect(crossLabel(set(), [a, b], { weight: 1.5 })).rejects.toBeInstanceOf(ClientError);
  });
});

describe('fetchLabels', () => {
  const digest = 'a'.repeat(64);
  const info: NetworkInfo = {
    endpoint: 'http://x',
    networkId: 'net-a',
    classes: [0, 1],
    imageShape: shape,
    modelDigest: digest,
    labels: true,
    maxLabelCount: 8,
    raw: {},
  };
  const answer = (patch: Record<string, unknown> = {}) =>
    ({
      networkId: 'net-a',
      modelDigest: digest,
      classes: [0, 1],
      count: 2,
      score: [0.5, 0.25],
      probabilities: [
        [0.75, 0.25],
        [0.5, 0.5],
      ],
      ...patch,
    }) as Record<string, unknown>;
  const fakeFetch = (body: unknown, seen?: Record<string, unknown>) =>
    (async (_url: string, init?: RequestInit) => {
      if (seen) {
        seen.method = init?.method;
        seen.type = (init?.headers as Record<string, string> | undefined)?.['content-type'];
        seen.bytes = (init?.body as Uint8Array | undefined)?.length;
      }
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;

  it('posts the raw pixels and returns the answer as typed arrays', async () => {
    const seen: Record<string, unknown> = {};
    const r = await fetchLabels({ url: 'http://x' }, info, new Uint8Array(8), 2, {
      fetch: fakeFetch(answer(), seen),
    });
    expect(seen).toEqual({ method: 'POST', type: 'application/octet-stream', bytes: 8 });
    expect(Array.from(r.score)).toEqual([0.5, 0.25]);
    expect(Array.from(r.probabilities)).toEqual([0.75, 0.25, 0.5, 0.5]);
  });

  it('refuses an answer for another model, other classes, or a malformed one', async () => {
    const ask = (body: unknown) =>
      fetchLabels({ url: 'http://x' }, info, new Uint8Array(8), 2, {
        fetch: fakeFetch(body),
        retries: 0,
      });
    await expect(ask(answer({ modelDigest: 'b'.repeat(64) }))).rejects.toMatchObject({
      code: 'digest-mismatch',
    });
    await expect(ask(answer({ classes: [0, 2] }))).rejects.toThrow(/classes \[0,2\]/);
    await expect(ask(answer({ score: [0.5] }))).rejects.toBeInstanceOf(EndpointError);
    await expect(ask(answer({ score: [2, 0.5] }))).rejects.toThrow(/invalid at score/);
  });

  it('refuses more images than the endpoint takes, before sending', async () => {
    let sent = false;
    const f = (async () => {
      sent = true;
      return new Response('{}');
    }) as unknown as typeof fetch;
    await expect(
      fetchLabels({ url: 'http://x' }, info, new Uint8Array(36), 9, { fetch: f }),
    ).rejects.toThrow(/takes 1..8/);
    expect(sent).toBe(false);
  });
});
