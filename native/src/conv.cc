// Convolutions of the ks_native addon: forward (im2col + sgemm, fused bias and activation),
// filter gradient (im2col^T . dy), input gradient (per-phase gather + sgemm). See kernels.h.
#include <cblas.h>

#include <cstring>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace ks {
namespace {

// col[r, (ky*kw + kx)*ci + c] = x[b, oy*sh - pt + ky*dh, ox*sw - pl + kx*dw, c] (0 outside),
// for output pixels p in [p0, p1), r = p - p0.
void im2col(const Conv& g, const float* x, int64_t p0, int64_t p1, float* col) {
  const int64_t K = g.K();
  const int64_t hw = static_cast<int64_t>(g.oh) * g.ow;
  for (int64_t p = p0; p < p1; p++) {
    const int64_t b = p / hw;
    const int64_t rem = p - b * hw;
    const int oy = static_cast<int>(rem / g.ow);
    const int ox = static_cast<int>(rem - static_cast<int64_t>(oy) * g.ow);
    const float* xb = x + b * g.h * g.w * g.ci;
    float* d = col + (p - p0) * K;
    for (int ky = 0; ky < g.kh; ky++) {
      const int iy = oy * g.sh - g.pt + ky * g.dh;
      if (iy < 0 || iy >= g.h) {
        std::memset(d, 0, sizeof(float) * g.kw * g.ci);
        d += g.kw * g.ci;
        continue;
      }
      for (int kx = 0; kx < g.kw; kx++) {
        const int ix = ox * g.sw - g.pl + kx * g.dw;
        if (ix < 0 || ix >= g.w) {
          for (int c = 0; c < g.ci; c++) d[c] = 0.f;
        } else {
          const float* s = xb + (static_cast<int64_t>(iy) * g.w + ix) * g.ci;
          for (int c = 0; c < g.ci; c++) d[c] = s[c];
        }
        d += g.ci;
      }
    }
  }
}


// dx = the adjoint of the convolution, as a gather (no col2im scatter, no multiplied zeros):
// input pixels of one phase (iy mod sh, ix mod sw) only see the taps ky = tap_y + sh*m, so each
// phase is a stride-1 correlation of dy with a small sub-filter Wp[(my, mx, co), ci]. Rows of
// all phases are chunked into one task list; phases write disjoint pixels of dx.
struct Phase {
  int start, count, tap, taps;
};

std::vector<Phase> phases(int in, int k, int s, int pad) {
  std::vector<Phase> res;
  for (int a = 0; a < s; a++) {
    const int count = (in - a + s - 1) / s;
    if (count <= 0) continue;
    const int tap = (a + pad) % s;
    const int taps = tap < k ? (k - tap + s - 1) / s : 0;
    res.push_back({a, count, tap, taps});
  }
  return res;
}

}  // namespace

// y[P, Co] = act(im2col(x) . W[K, Co] + bias)
void conv_forward(const Conv& g, const float* x, const float* wt, const float* bias, float* y,
                  int act, float alpha) {
  const int64_t K = g.K(), P = g.P();
  const int64_t rows = chunk_rows(K);
  const int64_t chunks = (P + rows - 1) / rows;
  const bool pw = g.pointwise();
  pool().for_each(chunks, [&](int64_t c) {
    {  // one chunk of output pixels
      const int64_t p0 = c * rows, p1 = std::min(P, p0 + rows), m = p1 - p0;
      float* out = y + p0 * g.co;
      const float* a = x + p0 * g.ci;
      if (!pw) {
        float* col = scratch(static_cast<size_t>(m * K));
        im2col(g, x, p0, p1, col);
        a = col;
      }
      if (g.co == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(m), static_cast<int>(K), 1.f, a,
                    static_cast<int>(K), wt, 1, 0.f, out, 1);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), g.co,
                    static_cast<int>(K), 1.f, a, static_cast<int>(K), wt, g.co, 0.f, out, g.co);
      }
      if (bias != nullptr || act != KS_ACT_LINEAR) bias_act(out, m, g.co, bias, act, alpha);
    }
  });
}

// dW[K, Co] = im2col(x)^T . dy[P, Co]: chunks in a fixed number of groups, one partial per
// group (sgemm accumulating over the group's chunks in order), partials added in group order.
void conv_backprop_filter(const Conv& g, const float* x, const float* dy, float* dw) {
  const int64_t K = g.K(), P = g.P();
  const int64_t rows = chunk_rows(K);
  const int64_t chunks = (P + rows - 1) / rows;
  const int64_t groups = std::min(chunks, MAX_GROUPS);
  const bool pw = g.pointwise();
  const size_t wsize = static_cast<size_t>(K) * g.co;
  std::vector<float> partials(groups > 1 ? wsize * static_cast<size_t>(groups) : 0);
  pool().for_each(groups, [&](int64_t gi) {
    float* acc = groups > 1 ? partials.data() + wsize * gi : dw;
    int64_t c0, c1;
    part(chunks, gi, groups, &c0, &c1);
    for (int64_t c = c0; c < c1; c++) {
      const int64_t p0 = c * rows, p1 = std::min(P, p0 + rows), m = p1 - p0;
      const float* a = x + p0 * g.ci;
      if (!pw) {
        float* col = scratch(static_cast<size_t>(m * K));
        im2col(g, x, p0, p1, col);
        a = col;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(K), g.co,
                  static_cast<int>(m), 1.f, a, static_cast<int>(K), dy + p0 * g.co, g.co,
                  c == c0 ? 0.f : 1.f, acc, g.co);
    }
  });
  if (groups > 1) {
    std::memcpy(dw, partials.data(), sizeof(float) * wsize);
    for (int64_t gi = 1; gi < groups; gi++) {
      const float* pp = partials.data() + wsize * gi;
      for (size_t i = 0; i < wsize; i++) dw[i] += pp[i];
    }
  }
}

void conv_backprop_input(const Conv& g, const float* dy, const float* wt, float* dx) {
  const std::vector<Phase> py = phases(g.h, g.kh, g.sh, g.pt);
  const std::vector<Phase> px = phases(g.w, g.kw, g.sw, g.pl);
  struct Job {
    const Phase* y;
    const Phase* x;
    int64_t kp;
    std::vector<float> wp;
  };
  std::vector<Job> jobs;
  bool zero = false;
  for (const Phase& a : py) {
    for (const Phase& b : px) {
      if (a.taps == 0 || b.taps == 0) {
        zero = true;
        continue;
      }
      Job j{&a, &b, static_cast<int64_t>(a.taps) * b.taps * g.co, {}};
      j.wp.resize(static_cast<size_t>(j.kp) * g.ci);
      float* o = j.wp.data();
      for (int my = 0; my < a.taps; my++) {
        const int ky = a.tap + g.sh * my;
        for (int mx = 0; mx < b.taps; mx++) {
          const int kx = b.tap + g.sw * mx;
          const float* src = wt + (static_cast<int64_t>(ky) * g.kw + kx) * g.ci * g.co;
          for (int c2 = 0; c2 < g.co; c2++) {
            for (int c1 = 0; c1 < g.ci; c1++) *o++ = src[static_cast<int64_t>(c1) * g.co + c2];
          }
        }
      }
      jobs.push_back(std::move(j));
    }
  }
  if (zero) std::memset(dx, 0, sizeof(float) * static_cast<size_t>(g.n) * g.h * g.w * g.ci);
  struct Task {
    int job;
    int64_t r0, r1;
  };
  std::vector<Task> tasks;
  for (int j = 0; j < static_cast<int>(jobs.size()); j++) {
    const int64_t rows = static_cast<int64_t>(g.n) * jobs[j].y->count * jobs[j].x->count;
    const int64_t chunk = chunk_rows(jobs[j].kp);
    for (int64_t r = 0; r < rows; r += chunk) tasks.push_back({j, r, std::min(rows, r + chunk)});
  }
  const bool direct = g.sh == 1 && g.sw == 1;  // one phase, rows = the pixels of dx in order
  pool().for_each(static_cast<int64_t>(tasks.size()), [&](int64_t ti) {
    {
      const Task& task = tasks[ti];
      const Job& j = jobs[task.job];
      const Phase& a = *j.y;
      const Phase& b = *j.x;
      const int64_t m = task.r1 - task.r0;
      const int64_t per_img0 = static_cast<int64_t>(a.count) * b.count;
      if (g.ci == 1) {
        // One output channel: dot products straight from dy (8 fixed lanes, fixed order).
        for (int64_t r = task.r0; r < task.r1; r++) {
          const int64_t bi = r / per_img0;
          const int64_t rem = r - bi * per_img0;
          const int iy = a.start + g.sh * static_cast<int>(rem / b.count);
          const int ix = b.start + g.sw * static_cast<int>(rem % b.count);
          const float* dyb = dy + bi * g.oh * g.ow * g.co;
          float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          float tail = 0.f;
          const float* wrow = j.wp.data();
          for (int my = 0; my < a.taps; my++) {
            const int ny = iy + g.pt - (a.tap + g.sh * my);
            const int oy = ny / g.sh;
            const bool rowOk = ny >= 0 && oy < g.oh;
            for (int mx = 0; mx < b.taps; mx++, wrow += g.co) {
              const int nx = ix + g.pl - (b.tap + g.sw * mx);
              const int ox = nx / g.sw;
              if (!rowOk || nx < 0 || ox >= g.ow) continue;
              const float* sp = dyb + (static_cast<int64_t>(oy) * g.ow + ox) * g.co;
              int c = 0;
              for (; c + 8 <= g.co; c += 8) {
                for (int l = 0; l < 8; l++) lane[l] += sp[c + l] * wrow[c + l];
              }
              for (; c < g.co; c++) tail += sp[c] * wrow[c];
            }
          }
          const float v = ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
                          ((lane[2] + lane[6]) + (lane[3] + lane[7])) + tail;
          dx[(bi * g.h + iy) * g.w + ix] = v;
        }
        return;
      }
      float* col = scratch(static_cast<size_t>(m * (j.kp + g.ci)));
      float* res = col + m * j.kp;
      const int64_t per_img = static_cast<int64_t>(a.count) * b.count;
      float* d = col;
      for (int64_t r = task.r0; r < task.r1; r++) {
        const int64_t bi = r / per_img;
        const int64_t rem = r - bi * per_img;
        const int iy = a.start + g.sh * static_cast<int>(rem / b.count);
        const int ix = b.start + g.sw * static_cast<int>(rem % b.count);
        const float* dyb = dy + bi * g.oh * g.ow * g.co;
        for (int my = 0; my < a.taps; my++) {
          const int ny = iy + g.pt - (a.tap + g.sh * my);
          const int oy = ny / g.sh;
          if (ny < 0 || oy >= g.oh) {
            std::memset(d, 0, sizeof(float) * b.taps * g.co);
            d += b.taps * g.co;
            continue;
          }
          for (int mx = 0; mx < b.taps; mx++) {
            const int nx = ix + g.pl - (b.tap + g.sw * mx);
            const int ox = nx / g.sw;
            if (nx < 0 || ox >= g.ow) {
              for (int c = 0; c < g.co; c++) d[c] = 0.f;
            } else {
              const float* s = dyb + (static_cast<int64_t>(oy) * g.ow + ox) * g.co;
              for (int c = 0; c < g.co; c++) d[c] = s[c];
            }
            d += g.co;
          }
        }
      }
      float* out = direct ? dx + task.r0 * g.ci : res;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), g.ci,
                  static_cast<int>(j.kp), 1.f, col, static_cast<int>(j.kp), j.wp.data(), g.ci,
                  0.f, out, g.ci);
      if (direct) return;
      const float* s = res;
      for (int64_t r = task.r0; r < task.r1; r++) {
        const int64_t bi = r / per_img;
        const int64_t rem = r - bi * per_img;
        const int iy = a.start + g.sh * static_cast<int>(rem / b.count);
        const int ix = b.start + g.sw * static_cast<int>(rem % b.count);
        float* o = dx + ((bi * g.h + iy) * g.w + ix) * g.ci;
        for (int c = 0; c < g.ci; c++) o[c] = s[c];
        s += g.ci;
      }
    }
  });
}

}  // namespace ks
