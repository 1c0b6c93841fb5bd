import * as fs from 'node:fs';
import { backend_util } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ABI_VERSION,
  ACTIVATION,
  CONV_PARAMS,
  convParams,
  MATMUL_PARAMS,
  matmulParams,
} from '../../../src/node/native/abi';
import { loadNativeAddon, nativeAddonError } from '../../../src/node/native/addon';

/** The TS <-> C++ contract: src/node/native/abi.ts must say what native/ks_abi.h says. */
const header = fs.readFileSync(new URL('../../../native/ks_abi.h', import.meta.url), 'utf8');
const defs = new Map<string, number>();
for (const m of header.matchAll(/\b(KS_[A-Z0-9_]+)\s*=\s*(\d+)\s*[,}]/g)) {
  defs.set(m[1]!, Number(m[2]));
}
const withPrefix = (p: string) => [...defs.keys()].filter((k) => k.startsWith(p)).sort();

describe('native ABI: src/node/native/abi.ts equals native/ks_abi.h', () => {
  it('version', () => {
    expect(defs.get('KS_ABI_VERSION')).toBe(ABI_VERSION);
  });

  it('activation codes, the same set on both sides', () => {
    const names = Object.keys(ACTIVATION);
    expect(withPrefix('KS_ACT_')).toEqual(names.map((n) => `KS_ACT_${n.toUpperCase()}`).sort());
    for (const [name, code] of Object.entries(ACTIVATION)) {
      expect(defs.get(`KS_ACT_${name.toUpperCase()}`), name).toBe(code);
    }
  });

  it.each([
    ['KS_CONV_', CONV_PARAMS],
    ['KS_MATMUL_', MATMUL_PARAMS],
  ] as const)('%s params: same names, same positions, same count', (prefix, params) => {
    const count = `${prefix}PARAM_COUNT`;
    expect(defs.get(count)).toBe(params.length);
    expect(withPrefix(prefix).filter((k) => k !== count)).toEqual(
      params.map((p) => `${prefix}${p.toUpperCase()}`).sort(),
    );
    params.forEach((p, i) => {
      expect(defs.get(`${prefix}${p.toUpperCase()}`), p).toBe(i);
    });
  });

  it('convParams puts each Conv2DInfo field at its header position', () => {
    // Every field distinct, so a swapped pair cannot go unnoticed.
    const pad = [
      [0, 0],
      [1, 0],
      [2, 0],
      [0, 0],
    ] as backend_util.ExplicitPadding;
    const info = backend_util.computeConv2DInfo([2, 11, 13, 3], [5, 4, 3, 7], [3, 2], [1, 1], pad);
    const p = convParams(info);
    const at = (name: string) => p[defs.get(`KS_CONV_${name}`)!];
    expect(p).toHaveLength(defs.get('KS_CONV_PARAM_COUNT')!);
    expect([at('BATCH'), at('IN_HEIGHT'), at('IN_WIDTH'), at('IN_CHANNELS')]).toEqual([
      2, 11, 13, 3,
    ]);
    expect([at('OUT_HEIGHT'), at('OUT_WIDTH'), at('OUT_CHANNELS')]).toEqual([
      info.outHeight,
      info.outWidth,
      7,
    ]);
    expect([at('FILTER_HEIGHT'), at('FILTER_WIDTH')]).toEqual([5, 4]);
    expect([at('STRIDE_HEIGHT'), at('STRIDE_WIDTH'), at('PAD_TOP'), at('PAD_LEFT')]).toEqual([
      3, 2, 1, 2,
    ]);
    const mm = matmulParams({
      batch: 6,
      m: 5,
      n: 4,
      k: 3,
      transpose_a: true,
      transpose_b: false,
      batch_a: 6,
      batch_b: 1,
    });
    expect([...mm]).toEqual([6, 5, 4, 3, 1, 0, 6, 1]);
  });
});

const addon = loadNativeAddon();
if (addon === null) {
  console.warn(
    `native ABI: addon checks skipped, the addon is not available (${nativeAddonError()})`,
  );
}

describe.skipIf(addon === null)('native ABI: the built addon', () => {
  const a = addon!;
  // 1 image 3x4x2, filter 2x2x2x3, stride 1, valid: y is 2x3x3.
  const x = Float32Array.from({ length: 24 }, (_, i) => (i % 7) - 3);
  const w = Float32Array.from({ length: 24 }, (_, i) => (i % 5) * 0.5 - 1);
  const info = backend_util.computeConv2DInfo([1, 3, 4, 2], [2, 2, 2, 3], 1, 1, 'valid');
  const reference = () => {
    const y = new Float32Array(2 * 3 * 3);
    for (let oy = 0; oy < 2; oy++)
      for (let ox = 0; ox < 3; ox++)
        for (let co = 0; co < 3; co++) {
          let s = 0;
          for (let ky = 0; ky < 2; ky++)
            for (let kx = 0; kx < 2; kx++)
              for (let ci = 0; ci < 2; ci++)
                s += x[((oy + ky) * 4 + ox + kx) * 2 + ci]! * w[((ky * 2 + kx) * 2 + ci) * 3 + co]!;
          y[(oy * 3 + ox) * 3 + co] = s;
        }
    return y;
  };

  it('reports the header version', () => {
    expect(a.abi).toBe(defs.get('KS_ABI_VERSION'));
  });

  it('computes a conv from params built by convParams, with the relu code', () => {
    const y = new Float32Array(18);
    a.conv2d(x, w, null, y, convParams(info), ACTIVATION.linear, 0);
    const ref = reference();
    for (let i = 0; i < 18; i++) expect(y[i]).toBeCloseTo(ref[i]!, 5);
    a.conv2d(x, w, null, y, convParams(info), ACTIVATION.relu, 0);
    for (let i = 0; i < 18; i++) expect(y[i]).toBeCloseTo(Math.max(0, ref[i]!), 5);
  });

  it('refuses bad arguments with a TypeError naming the function and the argument', () => {
    const y = new Float32Array(18);
    const p = convParams(info);
    expect(() => a.conv2d(x, w, null, y, p.subarray(0, 14), 0, 0)).toThrow(
      /ks_native\.conv2d: argument 5: an Int32Array of 15 params/,
    );
    expect(() => a.conv2d(x, w, null, y.subarray(0, 17), p, 0, 0)).toThrow(
      /argument 4: the view is smaller than its shape/,
    );
    expect(() => a.conv2d(x, w, null, y, p, 3, 0)).toThrow(/argument 6: an unknown activation/);
    expect(() => a.matmul(x, w, null, y, Int32Array.of(1, 2, 3), 0, 0)).toThrow(
      /ks_native\.matmul: argument 5/,
    );
    expect(() => (a.sumRows as (...v: unknown[]) => void)(x, y)).toThrow(/4 arguments expected/);
  });
});
