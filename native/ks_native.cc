// Native float32 kernels for the tfjs 'wasm' backend under Node (optional; loaded by
// src/node/native-kernels.ts, built by native/build.mjs).
//
// Every kernel works in place on Float32Array views of the wasm heap (zero copy): the caller
// allocates the output tensor first, then passes views of inputs and output. No JS runs while a
// kernel computes, so the heap cannot grow (and move) underneath it.
//
// Convolutions are NHWC with filters [KH, KW, Ci, Co] (tfjs layout), lowered to im2col (forward,
// filter gradient) or a per-phase gather (input gradient) + OpenBLAS sgemm, on chunks of output
// pixels small enough to stay in cache. Chunks are tasks for a small thread pool (OpenBLAS itself
// runs single-threaded inside each task). Task boundaries and the order of every reduction depend
// on the shapes only, so results are bit-identical for any thread count (on a given machine and
// OpenBLAS build: its kernels are picked for the CPU at load time).

#include <cblas.h>
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// Thread pool: workers block on a condition variable between jobs (no spinning: the machine is
// shared). for_each(n, fn) runs fn(i) for every task i in [0, n) on the calling thread and on
// whichever workers wake up in time, each taking the next task from a shared counter (so a
// descheduled worker delays one task, not a fixed share). Which thread runs a task varies, so
// every kernel makes a task's result independent of that: disjoint outputs, or per-task partial
// sums reduced in task order. Task boundaries depend on the shapes only: results are the same
// for any thread count. Workers are detached and never destroyed (process exit ends them).

using TaskFn = std::function<void(int64_t)>;

class Pool {
 public:
  int threads() const { return threads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> call(call_);
    n = std::max(1, std::min(n, 64));
    while (static_cast<int>(started_) < n - 1) {
      int id = static_cast<int>(started_) + 1;
      uint64_t g0;
      {
        std::lock_guard<std::mutex> lk(m_);
        g0 = gen_;
      }
      std::thread([this, id, g0] { loop(id, g0); }).detach();
      started_++;
    }
    threads_ = n;
  }

  void for_each(int64_t n, const TaskFn& fn) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> call(call_);
    if (threads_ <= 1 || n == 1) {
      for (int64_t i = 0; i < n; i++) fn(i);
      return;
    }
    std::atomic<int64_t> next{0};
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &fn;
      next_ = &next;
      total_ = n;
      active_ = threads_;
      gen_++;
    }
    cv_.notify_all();
    work(fn, next, n);
    std::unique_lock<std::mutex> lk(m_);
    job_ = nullptr;  // workers waking from now on skip this job
    done_.wait(lk, [this] { return inside_ == 0; });
  }

 private:
  static void work(const TaskFn& fn, std::atomic<int64_t>& next, int64_t n) {
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      fn(i);
    }
  }

  void loop(int id, uint64_t seen) {
    for (;;) {
      const TaskFn* job;
      std::atomic<int64_t>* next;
      int64_t n;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return gen_ != seen; });
        seen = gen_;
        if (id >= active_ || job_ == nullptr) continue;
        job = job_;
        next = next_;
        n = total_;
        inside_++;
      }
      work(*job, *next, n);
      {
        std::lock_guard<std::mutex> lk(m_);
        if (--inside_ == 0) done_.notify_all();
      }
    }
  }

  std::mutex call_;  // one parallel job at a time (several Node environments may share us)
  std::mutex m_;
  std::condition_variable cv_, done_;
  const TaskFn* job_ = nullptr;
  std::atomic<int64_t>* next_ = nullptr;
  int64_t total_ = 0;
  uint64_t gen_ = 0;
  int active_ = 1;
  int inside_ = 0;
  unsigned started_ = 0;
  int threads_ = 1;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: detached workers may outlive static dtors
  return *p;
}

// Fixed split of [0, n) into `parts` contiguous ranges (range i of parts).
inline void part(int64_t n, int64_t i, int64_t parts, int64_t* b, int64_t* e) {
  *b = n * i / parts;
  *e = n * (i + 1) / parts;
}

// Partial sums are kept per group of tasks: at most this many groups.
constexpr int64_t MAX_GROUPS = 16;

thread_local std::vector<float> tl_scratch;
float* scratch(size_t n) {
  if (tl_scratch.size() < n) tl_scratch.resize(n);
  return tl_scratch.data();
}

// ---------------------------------------------------------------------------------------------
// Activations (tfjs FusableActivation order, prelu excluded: handled by the caller's fallback).
enum Act { LINEAR = 0, RELU = 1, RELU6 = 2, LEAKY = 4, SIGMOID = 5, ELU = 6 };

void bias_act(float* y, int64_t rows, int cols, const float* bias, int act, float alpha) {
  for (int64_t r = 0; r < rows; r++) {
    float* row = y + r * cols;
    if (bias != nullptr) {
      for (int c = 0; c < cols; c++) row[c] += bias[c];
    }
    switch (act) {
      case RELU:
        for (int c = 0; c < cols; c++) row[c] = row[c] > 0.f ? row[c] : 0.f;
        break;
      case RELU6:
        for (int c = 0; c < cols; c++) row[c] = std::min(6.f, std::max(0.f, row[c]));
        break;
      case LEAKY:
        for (int c = 0; c < cols; c++) row[c] = row[c] < 0.f ? alpha * row[c] : row[c];
        break;
      case SIGMOID:
        for (int c = 0; c < cols; c++) row[c] = 1.f / (1.f + std::exp(-row[c]));
        break;
      case ELU:
        for (int c = 0; c < cols; c++) row[c] = row[c] > 0.f ? row[c] : std::expm1(row[c]);
        break;
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry.
struct Conv {
  int n, h, w, ci, oh, ow, co, kh, kw, sh, sw, dh, dw, pt, pl;
  int64_t K() const { return static_cast<int64_t>(kh) * kw * ci; }
  int64_t P() const { return static_cast<int64_t>(n) * oh * ow; }
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0; }
};

// Rows of im2col per chunk: ~768 KiB of columns (fits the per-core L2 with the filter).
int64_t chunk_rows(int64_t K) { return std::max<int64_t>(32, std::min<int64_t>(2048, 196608 / K)); }

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
      if (bias != nullptr || act != LINEAR) bias_act(out, m, g.co, bias, act, alpha);
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
    if (bias != nullptr || act != LINEAR) {
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

// ---------------------------------------------------------------------------------------------
// N-API glue. Sizes are checked against the views' lengths before any pointer is touched.

#define CHECK(call)                                      \
  do {                                                   \
    if ((call) != napi_ok) {                             \
      napi_throw_error(env, nullptr, "ks_native: " #call); \
      return nullptr;                                    \
    }                                                    \
  } while (0)

bool f32view(napi_env env, napi_value v, float** data, size_t* len, bool optional) {
  napi_valuetype vt;
  if (napi_typeof(env, v, &vt) != napi_ok) return false;
  if (optional && (vt == napi_null || vt == napi_undefined)) {
    *data = nullptr;
    *len = 0;
    return true;
  }
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* d;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &d, &ab, &off) != napi_ok) return false;
  if (type != napi_float32_array) return false;
  *data = static_cast<float*>(d);
  return true;
}

bool i32s(napi_env env, napi_value v, std::vector<int64_t>* out, size_t n) {
  napi_typedarray_type type;
  size_t len;
  void* d;
  napi_value ab;
  size_t off;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, v, &type, &len, &d, &ab, &off) != napi_ok) return false;
  if (type != napi_int32_array || len != n) return false;
  const int32_t* p = static_cast<const int32_t*>(d);
  out->assign(p, p + n);
  for (int64_t x : *out) {
    if (x < 0) return false;
  }
  return true;
}

napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, nullptr, msg);
  return nullptr;
}

bool parse_conv(const std::vector<int64_t>& p, Conv* g) {
  int* f[] = {&g->n,  &g->h,  &g->w,  &g->ci, &g->oh, &g->ow, &g->co, &g->kh,
              &g->kw, &g->sh, &g->sw, &g->dh, &g->dw, &g->pt, &g->pl};
  for (size_t i = 0; i < 15; i++) *f[i] = static_cast<int>(p[i]);
  return g->n > 0 && g->h > 0 && g->w > 0 && g->ci > 0 && g->oh > 0 && g->ow > 0 && g->co > 0 &&
         g->kh > 0 && g->kw > 0 && g->sh > 0 && g->sw > 0 && g->dh > 0 && g->dw > 0;
}

// Reads (args..., params Int32Array[15]) and checks sizes; returns false after throwing.
struct ConvArgs {
  Conv g;
  int64_t xs, ws, ys;
};

bool conv_args(napi_env env, napi_value pv, ConvArgs* c) {
  std::vector<int64_t> p;
  if (!i32s(env, pv, &p, 15) || !parse_conv(p, &c->g)) {
    napi_throw_type_error(env, nullptr, "ks_native: bad conv params");
    return false;
  }
  const Conv& g = c->g;
  c->xs = static_cast<int64_t>(g.n) * g.h * g.w * g.ci;
  c->ws = g.K() * g.co;
  c->ys = g.P() * g.co;
  return true;
}

// conv2d(x, w, bias|null, y, params, act, alpha)
napi_value Conv2D(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 7) return throw_type(env, "ks_native.conv2d: 7 arguments");
  ConvArgs c;
  if (!conv_args(env, argv[4], &c)) return nullptr;
  float *x, *w, *bias, *y;
  size_t lx, lw, lb, ly;
  if (!f32view(env, argv[0], &x, &lx, false) || !f32view(env, argv[1], &w, &lw, false) ||
      !f32view(env, argv[2], &bias, &lb, true) || !f32view(env, argv[3], &y, &ly, false)) {
    return throw_type(env, "ks_native.conv2d: Float32Array views expected");
  }
  if (static_cast<int64_t>(lx) < c.xs || static_cast<int64_t>(lw) < c.ws ||
      static_cast<int64_t>(ly) < c.ys || (bias != nullptr && static_cast<int>(lb) < c.g.co)) {
    return throw_type(env, "ks_native.conv2d: a view is smaller than its shape");
  }
  int32_t act;
  double alpha;
  CHECK(napi_get_value_int32(env, argv[5], &act));
  CHECK(napi_get_value_double(env, argv[6], &alpha));
  conv_forward(c.g, x, w, bias, y, act, static_cast<float>(alpha));
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, params)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 4) return throw_type(env, "ks_native.conv2dBackpropFilter: 4 arguments");
  ConvArgs c;
  if (!conv_args(env, argv[3], &c)) return nullptr;
  float *x, *dy, *dw;
  size_t lx, ld, lw;
  if (!f32view(env, argv[0], &x, &lx, false) || !f32view(env, argv[1], &dy, &ld, false) ||
      !f32view(env, argv[2], &dw, &lw, false)) {
    return throw_type(env, "ks_native.conv2dBackpropFilter: Float32Array views expected");
  }
  if (static_cast<int64_t>(lx) < c.xs || static_cast<int64_t>(ld) < c.ys ||
      static_cast<int64_t>(lw) < c.ws) {
    return throw_type(env, "ks_native.conv2dBackpropFilter: a view is smaller than its shape");
  }
  conv_backprop_filter(c.g, x, dy, dw);
  return nullptr;
}

// conv2dBackpropInput(dy, w, dx, params)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 4) return throw_type(env, "ks_native.conv2dBackpropInput: 4 arguments");
  ConvArgs c;
  if (!conv_args(env, argv[3], &c)) return nullptr;
  float *dy, *w, *dx;
  size_t ld, lw, lx;
  if (!f32view(env, argv[0], &dy, &ld, false) || !f32view(env, argv[1], &w, &lw, false) ||
      !f32view(env, argv[2], &dx, &lx, false)) {
    return throw_type(env, "ks_native.conv2dBackpropInput: Float32Array views expected");
  }
  if (static_cast<int64_t>(ld) < c.ys || static_cast<int64_t>(lw) < c.ws ||
      static_cast<int64_t>(lx) < c.xs) {
    return throw_type(env, "ks_native.conv2dBackpropInput: a view is smaller than its shape");
  }
  conv_backprop_input(c.g, dy, w, dx);
  return nullptr;
}

// matmul(a, b, bias|null, c, params [batch, m, n, k, ta, tb, batchA, batchB], act, alpha)
napi_value MatMul(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 7) return throw_type(env, "ks_native.matmul: 7 arguments");
  std::vector<int64_t> p;
  if (!i32s(env, argv[4], &p, 8)) return throw_type(env, "ks_native.matmul: bad params");
  const int64_t batch = p[0], m = p[1], n = p[2], k = p[3], ba = p[6], bb = p[7];
  const bool ta = p[4] != 0, tb = p[5] != 0;
  if (batch < 1 || m < 1 || n < 1 || k < 1 || (ba != 1 && ba != batch) ||
      (bb != 1 && bb != batch)) {
    return throw_type(env, "ks_native.matmul: bad params");
  }
  float *a, *b, *bias, *c;
  size_t la, lb, lbias, lc;
  if (!f32view(env, argv[0], &a, &la, false) || !f32view(env, argv[1], &b, &lb, false) ||
      !f32view(env, argv[2], &bias, &lbias, true) || !f32view(env, argv[3], &c, &lc, false)) {
    return throw_type(env, "ks_native.matmul: Float32Array views expected");
  }
  if (static_cast<int64_t>(la) < ba * m * k || static_cast<int64_t>(lb) < bb * k * n ||
      static_cast<int64_t>(lc) < batch * m * n ||
      (bias != nullptr && static_cast<int64_t>(lbias) < n)) {
    return throw_type(env, "ks_native.matmul: a view is smaller than its shape");
  }
  int32_t act;
  double alpha;
  CHECK(napi_get_value_int32(env, argv[5], &act));
  CHECK(napi_get_value_double(env, argv[6], &alpha));
  matmul(a, b, bias, c, static_cast<int>(batch), static_cast<int>(m), static_cast<int>(n),
         static_cast<int>(k), ta, tb, ba == 1 ? 0 : m * k, bb == 1 ? 0 : k * n, act,
         static_cast<float>(alpha));
  return nullptr;
}

// sumRows(x, out, rows, cols)
napi_value SumRows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 4) return throw_type(env, "ks_native.sumRows: 4 arguments");
  float *x, *out;
  size_t lx, lo;
  int64_t rows, cols;
  if (!f32view(env, argv[0], &x, &lx, false) || !f32view(env, argv[1], &out, &lo, false)) {
    return throw_type(env, "ks_native.sumRows: Float32Array views expected");
  }
  CHECK(napi_get_value_int64(env, argv[2], &rows));
  CHECK(napi_get_value_int64(env, argv[3], &cols));
  if (rows < 1 || cols < 1 || static_cast<int64_t>(lx) < rows * cols ||
      static_cast<int64_t>(lo) < cols) {
    return throw_type(env, "ks_native.sumRows: bad sizes");
  }
  sum_rows(x, out, rows, cols);
  return nullptr;
}

// addBias(x, bias, out, rows, cols): out[r, c] = x[r, c] + bias[c]
napi_value AddBias(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 5) return throw_type(env, "ks_native.addBias: 5 arguments");
  float *x, *bias, *out;
  size_t lx, lb, lo;
  int64_t rows, cols;
  if (!f32view(env, argv[0], &x, &lx, false) || !f32view(env, argv[1], &bias, &lb, false) ||
      !f32view(env, argv[2], &out, &lo, false)) {
    return throw_type(env, "ks_native.addBias: Float32Array views expected");
  }
  CHECK(napi_get_value_int64(env, argv[3], &rows));
  CHECK(napi_get_value_int64(env, argv[4], &cols));
  if (rows < 1 || cols < 1 || static_cast<int64_t>(lx) < rows * cols ||
      static_cast<int64_t>(lo) < rows * cols || static_cast<int64_t>(lb) < cols) {
    return throw_type(env, "ks_native.addBias: bad sizes");
  }
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
  return nullptr;
}

// threads(n?) -> the pool size (sets it first when n is given).
napi_value Threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc >= 1) {
    napi_valuetype vt;
    CHECK(napi_typeof(env, argv[0], &vt));
    if (vt == napi_number) {
      int32_t n;
      CHECK(napi_get_value_int32(env, argv[0], &n));
      pool().resize(n);
    }
  }
  napi_value r;
  CHECK(napi_create_int32(env, pool().threads(), &r));
  return r;
}

// blas() -> OpenBLAS build and the core its kernels were picked for.
napi_value Blas(napi_env env, napi_callback_info) {
  std::string s = std::string(openblas_get_config()) + " / " + openblas_get_corename();
  napi_value r;
  CHECK(napi_create_string_utf8(env, s.c_str(), s.size(), &r));
  return r;
}

napi_value Init(napi_env env, napi_value exports) {
  // OpenBLAS runs inside our chunks, one call per thread: its own threading stays off.
  openblas_set_num_threads(1);
  napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2D, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2DBackpropFilter, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2DBackpropInput, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"matmul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addBias", nullptr, AddBias, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blas", nullptr, Blas, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) {
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
