// The ks_native kernels (float32, in place on caller-owned buffers; the addon's contract and
// the meaning of every argument: ../ks_abi.h).
//
// Convolutions are NHWC with filters [KH, KW, Ci, Co] (tfjs layout), lowered to im2col (forward,
// filter gradient) or a per-phase gather (input gradient) + OpenBLAS sgemm, on chunks of output
// pixels small enough to stay in cache. Chunks are tasks for the pool (pool.h; OpenBLAS itself
// runs single-threaded inside each task). Task boundaries and the order of every reduction depend
// on the shapes only, so results are bit-identical for any thread count (on a given machine and
// OpenBLAS build: its kernels are picked for the CPU at load time).
#ifndef KS_KERNELS_H_
#define KS_KERNELS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../ks_abi.h"

namespace ks {

// Convolution geometry (the KS_CONV_* params, in that order).
struct Conv {
  int n, h, w, ci, oh, ow, co, kh, kw, sh, sw, dh, dw, pt, pl;
  int64_t K() const { return static_cast<int64_t>(kh) * kw * ci; }
  int64_t P() const { return static_cast<int64_t>(n) * oh * ow; }
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0; }
  int64_t x_size() const { return static_cast<int64_t>(n) * h * w * ci; }
  int64_t w_size() const { return K() * co; }
  int64_t y_size() const { return P() * co; }
};

// Rows of im2col per chunk: ~768 KiB of columns (fits the per-core L2 with the filter).
inline int64_t chunk_rows(int64_t K) {
  return std::max<int64_t>(32, std::min<int64_t>(2048, 196608 / K));
}

// y[r, c] = act(y[r, c] + bias[c]) (bias may be null; act: a KsActivation code).
inline void bias_act(float* y, int64_t rows, int cols, const float* bias, int act, float alpha) {
  for (int64_t r = 0; r < rows; r++) {
    float* row = y + r * cols;
    if (bias != nullptr) {
      for (int c = 0; c < cols; c++) row[c] += bias[c];
    }
    switch (act) {
      case KS_ACT_RELU:
        for (int c = 0; c < cols; c++) row[c] = row[c] > 0.f ? row[c] : 0.f;
        break;
      case KS_ACT_RELU6:
        for (int c = 0; c < cols; c++) row[c] = std::min(6.f, std::max(0.f, row[c]));
        break;
      case KS_ACT_LEAKYRELU:
        for (int c = 0; c < cols; c++) row[c] = row[c] < 0.f ? alpha * row[c] : row[c];
        break;
      case KS_ACT_SIGMOID:
        for (int c = 0; c < cols; c++) row[c] = 1.f / (1.f + std::exp(-row[c]));
        break;
      case KS_ACT_ELU:
        for (int c = 0; c < cols; c++) row[c] = row[c] > 0.f ? row[c] : std::expm1(row[c]);
        break;
      default:
        break;
    }
  }
}

// y[P, Co] = act(im2col(x) . W[K, Co] + bias)
void conv_forward(const Conv& g, const float* x, const float* wt, const float* bias, float* y,
                  int act, float alpha);
// dW[K, Co] = im2col(x)^T . dy[P, Co]
void conv_backprop_filter(const Conv& g, const float* x, const float* dy, float* dw);
// dx = the adjoint of the convolution applied to dy
void conv_backprop_input(const Conv& g, const float* dy, const float* wt, float* dx);

// C[b] = act(op(A[b]) . op(B[b]) + bias); A/B batch strides may be 0 (broadcast).
void matmul(const float* a, const float* b, const float* bias, float* c, int batch, int m, int n,
            int k, bool ta, bool tb, int64_t sa, int64_t sb, int act, float alpha);
// out[c] = sum_r x[r, c]
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols);
// out[r, c] = x[r, c] + bias[c]
void add_bias(const float* x, const float* bias, float* out, int64_t rows, int64_t cols);

}  // namespace ks

#endif  // KS_KERNELS_H_
