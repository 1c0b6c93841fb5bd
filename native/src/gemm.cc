// Matrix products and row reductions of the ks_native addon (see kernels.h).
#include <cblas.h>

#include <vector>

#include "kernels.h"
#include "pool.h"

namespace ks {

// C[b] = act(op(A[b]) . op(B[b]) + bias); A/B batch strides may be 0 (broadcast).
void matmul(const float* a, const float* b, const float* bias, float* c, int batch, int m, int n,
            int k, bool ta, bool tb, int64_t sa, int64_t sb, int act, float alpha) {
  const int lda = ta ? m : k, ldb = tb ? k : n;
  const double flops = 2.0 * batch * m * n * k;
  // Split the batch when there are several matrices, else the columns of each product.
  const bool by_batch = batch >= 4;
  const bool small = flops < 4e5;
  auto one = [&](int i, int n0, int n1) {
    if (n1 <= n0) return;
    const float* bb = b + i * sb + (tb ? static_cast<int64_t>(n0) * k : n0);
    float* cc = c + static_cast<int64_t>(i) * m * n + n0;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n1 - n0, k, 1.f, a + i * sa, lda, bb, ldb, 0.f, cc, n);
    if (bias != nullptr || act != KS_ACT_LINEAR) {
      for (int r = 0; r < m; r++) {
        bias_act(cc + static_cast<int64_t>(r) * n, 1, n1 - n0, bias ? bias + n0 : nullptr, act,
                 alpha);
      }
    }
  };
  if (small) {
    for (int i = 0; i < batch; i++) one(i, 0, n);
    return;
  }
  if (by_batch) {
    pool().for_each(batch, [&](int64_t i) { one(static_cast<int>(i), 0, n); });
  } else {
    // Fixed column blocks (whole SIMD tiles), whatever the thread count.
    const int64_t blocks = (n + 63) / 64;
    pool().for_each(blocks, [&](int64_t jb) {
      const int n0 = static_cast<int>(jb) * 64, n1 = std::min(n, n0 + 64);
      for (int i = 0; i < batch; i++) one(i, n0, n1);
    });
  }
}

// out[c] = sum_r x[r, c] (bias gradients): rows in a fixed number of groups with double
// partials, added in group order.
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols) {
  const int64_t groups = rows * cols < (1 << 16) ? 1 : std::min(rows, MAX_GROUPS);
  std::vector<double> acc(static_cast<size_t>(groups * cols), 0.0);
  pool().for_each(groups, [&](int64_t gi) {
    int64_t r0, r1;
    part(rows, gi, groups, &r0, &r1);
    double* a = acc.data() + gi * cols;
    for (int64_t r = r0; r < r1; r++) {
      const float* row = x + r * cols;
      for (int64_t c = 0; c < cols; c++) a[c] += row[c];
    }
  });
  for (int64_t c = 0; c < cols; c++) {
    double v = 0;
    for (int64_t gi = 0; gi < groups; gi++) v += acc[static_cast<size_t>(gi * cols + c)];
    out[c] = static_cast<float>(v);
  }
}

// Rows in a fixed number of groups (disjoint outputs).
void add_bias(const float* x, const float* bias, float* out, int64_t rows, int64_t cols) {
  const int64_t groups = rows * cols < (1 << 15) ? 1 : std::min(rows, MAX_GROUPS);
  pool().for_each(groups, [&](int64_t gi) {
    int64_t r0, r1;
    part(rows, gi, groups, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
      const float* a = x + r * cols;
      float* o = out + r * cols;
      for (int64_t c = 0; c < cols; c++) o[c] = a[c] + bias[c];
    }
  });
}

}  // namespace ks
