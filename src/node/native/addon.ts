import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../repo-root';
import { ABI_VERSION } from './abi';

/**
 * Loading the optional N-API addon (native/, built by `npm ci` through native/build.mjs when
 * libopenblas-dev is installed, or later by `npm run build:native`). Argument lists and codes:
 * native/ks_abi.h and ./abi.ts.
 */
export interface NativeAddon {
  conv2d(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    params: Int32Array,
    act: number,
    alpha: number,
  ): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, p: Int32Array): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, p: Int32Array): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    c: Float32Array,
    params: Int32Array,
    act: number,
    alpha: number,
  ): void;
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  addBias(x: Float32Array, bias: Float32Array, out: Float32Array, rows: number, cols: number): void;
  threads(n?: number): number;
  blas(): string;
  /** KS_ABI_VERSION of the build (absent before the contract had a version). */
  readonly abi?: number;
}

export const NATIVE_ADDON_PATH = join(REPO_ROOT, 'native', 'build', 'Release', 'ks_native.node');

// The addon is process-wide (a dlopen'ed library): so is what loading it found.
let cached: { addon: NativeAddon | null; error: string | null } | undefined;

/** The addon, or null (with the reason in `nativeAddonError()`) when it is not usable. */
export function loadNativeAddon(): NativeAddon | null {
  cached ??= load();
  return cached.addon;
}

function load(): { addon: NativeAddon | null; error: string | null } {
  if (process.env.KS_NATIVE === '0') return { addon: null, error: 'disabled by KS_NATIVE=0' };
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    return { addon: null, error: 'not built (npm run build:native; needs libopenblas-dev)' };
  }
  // OpenBLAS must not start its own thread pool: we call it from ours, one thread per call.
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  try {
    const addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
    if (addon.abi !== ABI_VERSION) {
      return {
        addon: null,
        error: `built for ABI ${addon.abi ?? 0}, this code needs ${ABI_VERSION} (npm run build:native)`,
      };
    }
    return { addon, error: null };
  } catch (e) {
    return { addon: null, error: e instanceof Error ? e.message : String(e) };
  }
}

export function nativeAddonError(): string | null {
  loadNativeAddon();
  return cached?.error ?? null;
}

/** Pool size and BLAS build of the loaded addon (null without it). */
export function nativeInfo(): { threads: number; blas: string } | null {
  const addon = loadNativeAddon();
  return addon === null ? null : { threads: addon.threads(), blas: addon.blas() };
}
