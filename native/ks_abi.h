// The contract between src/node/native (TypeScript) and the ks_native addon (C++).
//
// This header is the one place the numbers live. The TypeScript side keeps the same constants
// in src/node/native/abi.ts, and test/node/native/abi.test.ts parses this file and checks that
// they are equal, and that a built addon reports KS_ABI_VERSION. Change both together and bump
// KS_ABI_VERSION whenever a function's arguments change (a stale build then refuses to load).
//
// Every enum value is written out (`NAME = number`): the test reads them with a regex.
#ifndef KS_ABI_H_
#define KS_ABI_H_

enum KsAbi { KS_ABI_VERSION = 1 };

// Fused activations: tfjs's FusableActivation names, prelu excluded (the TS side hands prelu to
// the next kernel). Code 3 was prelu in an earlier numbering and stays unused.
enum KsActivation {
  KS_ACT_LINEAR = 0,
  KS_ACT_RELU = 1,
  KS_ACT_RELU6 = 2,
  KS_ACT_LEAKYRELU = 4,
  KS_ACT_SIGMOID = 5,
  KS_ACT_ELU = 6,
};

// conv2d / conv2dBackpropFilter / conv2dBackpropInput: the Int32Array `params`, in this order
// (tfjs's Conv2DInfo: batch, input H W C, output H W C, filter H W, strides, dilations, the
// top/left padding). Tensors are NHWC, filters [KH, KW, Ci, Co].
enum KsConvParam {
  KS_CONV_BATCH = 0,
  KS_CONV_IN_HEIGHT = 1,
  KS_CONV_IN_WIDTH = 2,
  KS_CONV_IN_CHANNELS = 3,
  KS_CONV_OUT_HEIGHT = 4,
  KS_CONV_OUT_WIDTH = 5,
  KS_CONV_OUT_CHANNELS = 6,
  KS_CONV_FILTER_HEIGHT = 7,
  KS_CONV_FILTER_WIDTH = 8,
  KS_CONV_STRIDE_HEIGHT = 9,
  KS_CONV_STRIDE_WIDTH = 10,
  KS_CONV_DILATION_HEIGHT = 11,
  KS_CONV_DILATION_WIDTH = 12,
  KS_CONV_PAD_TOP = 13,
  KS_CONV_PAD_LEFT = 14,
  KS_CONV_PARAM_COUNT = 15,
};

// matmul: the Int32Array `params`. C[batch, M, N] = op(A) . op(B); batchA and batchB are 1
// (broadcast) or batch; transposeA/B are 0 or 1.
enum KsMatmulParam {
  KS_MATMUL_BATCH = 0,
  KS_MATMUL_M = 1,
  KS_MATMUL_N = 2,
  KS_MATMUL_K = 3,
  KS_MATMUL_TRANSPOSE_A = 4,
  KS_MATMUL_TRANSPOSE_B = 5,
  KS_MATMUL_BATCH_A = 6,
  KS_MATMUL_BATCH_B = 7,
  KS_MATMUL_PARAM_COUNT = 8,
};

// The addon's exports (all arrays are Float32Array views of the wasm heap unless said):
//   conv2d(x, w, bias | null, y, params: Int32Array[KS_CONV_PARAM_COUNT], act, alpha)
//   conv2dBackpropFilter(x, dy, dw, params)
//   conv2dBackpropInput(dy, w, dx, params)
//   matmul(a, b, bias | null, c, params: Int32Array[KS_MATMUL_PARAM_COUNT], act, alpha)
//   sumRows(x, out, rows, cols)           out[c] = sum_r x[r, c]
//   addBias(x, bias, out, rows, cols)     out[r, c] = x[r, c] + bias[c]
//   threads(n?) -> pool size;  blas() -> OpenBLAS build and core;  abi: KS_ABI_VERSION

#endif  // KS_ABI_H_
