/**
 * Optional native kernels for the tfjs 'wasm' backend under Node: an N-API addon (native/) on
 * OpenBLAS sgemm + im2col, multithreaded over a fixed pool, working in place on the wasm heap
 * (Float32Array views, no copies). They replace Conv2D, FusedConv2D, Conv2DBackpropFilter,
 * Conv2DBackpropInput, BatchMatMul, _FusedMatMul, Sum (over leading axes: bias gradients) and
 * Add of a bias on 'wasm' for float32 NHWC cases.
 *
 *   abi.ts       the contract with the C++ side (native/ks_abi.h), checked by a test
 *   addon.ts     finding and loading the addon (KS_NATIVE=0 disables it)
 *   conv.ts, matmul.ts, rows.ts   the kernels; guards.ts: the checks they share
 *   register.ts  registration through src/core/kernels' overrideKernel ('native' layer)
 *
 * Determinism: work is cut into tasks whose boundaries, and the order of every reduction,
 * depend on the shapes only; threads (`threads`, default `os.availableParallelism()`, or
 * KS_NATIVE_THREADS) just take tasks from a queue. So results are bit-identical for any thread
 * count on a given machine (OpenBLAS picks its kernels for the CPU at load time). The last bits
 * differ from XNNPACK's, so code that must match the Worker bit for bit (packet generation) runs
 * inside `portableKernels()`, where these kernels step aside.
 */
export {
  loadNativeAddon,
  NATIVE_ADDON_PATH,
  type NativeAddon,
  nativeAddonError,
  nativeInfo,
} from './addon';
export {
  type NativeKernelOptions,
  nativeKernelsActive,
  registerNativeKernels,
  unregisterNativeKernels,
} from './register';
