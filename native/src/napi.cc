// N-API glue of the ks_native addon: one Args reader checks every call's arguments (count,
// types, the params arrays of ../ks_abi.h, and that each view holds its shape) before any
// pointer is touched, then the kernel of kernels.h runs. No JS runs while a kernel computes, so
// the wasm heap the views point into cannot grow (and move) underneath it.
#include <cblas.h>
#include <node_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../ks_abi.h"
#include "kernels.h"
#include "pool.h"

namespace ks {
namespace {

constexpr size_t MAX_ARGS = 8;

// The arguments of one call. The first problem throws a TypeError naming the function, the
// argument and what was wrong; later reads return neutral values and the caller checks ok()
// before running anything.
class Args {
 public:
  Args(napi_env env, napi_callback_info info, const char* fn, size_t count) : env_(env), fn_(fn) {
    size_t argc = MAX_ARGS;
    if (napi_get_cb_info(env, info, &argc, argv_, nullptr, nullptr) != napi_ok) {
      fail(0, "unreadable arguments");
    } else if (argc != count) {
      fail(0, (std::to_string(count) + " arguments expected, got " + std::to_string(argc)).c_str());
    }
  }

  bool ok() const { return ok_; }

  // A Float32Array with at least `min` elements; null/undefined gives nullptr when optional.
  float* f32(size_t i, int64_t min, bool optional = false) {
    if (!ok_) return nullptr;
    napi_valuetype vt;
    if (napi_typeof(env_, argv_[i], &vt) != napi_ok) return fail(i, "unreadable"), nullptr;
    if (optional && (vt == napi_null || vt == napi_undefined)) return nullptr;
    bool is = false;
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    napi_value ab;
    size_t off;
    if (napi_is_typedarray(env_, argv_[i], &is) != napi_ok || !is ||
        napi_get_typedarray_info(env_, argv_[i], &type, &len, &data, &ab, &off) != napi_ok ||
        type != napi_float32_array) {
      return fail(i, "a Float32Array expected"), nullptr;
    }
    if (static_cast<int64_t>(len) < min) return fail(i, "the view is smaller than its shape"), nullptr;
    return static_cast<float*>(data);
  }

  // An Int32Array of exactly n values, none negative.
  std::vector<int64_t> i32s(size_t i, size_t n) {
    std::vector<int64_t> out(n, 0);
    if (!ok_) return out;
    bool is = false;
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    napi_value ab;
    size_t off;
    if (napi_is_typedarray(env_, argv_[i], &is) != napi_ok || !is ||
        napi_get_typedarray_info(env_, argv_[i], &type, &len, &data, &ab, &off) != napi_ok ||
        type != napi_int32_array || len != n) {
      fail(i, ("an Int32Array of " + std::to_string(n) + " params expected").c_str());
      return out;
    }
    const int32_t* p = static_cast<const int32_t*>(data);
    for (size_t k = 0; k < n; k++) {
      if (p[k] < 0) {
        fail(i, "a negative param");
        return out;
      }
      out[k] = p[k];
    }
    return out;
  }

  // Conv geometry from KS_CONV_PARAM_COUNT params; every size and step must be positive.
  Conv conv(size_t i) {
    const std::vector<int64_t> p = i32s(i, KS_CONV_PARAM_COUNT);
    Conv g{};
    int* f[KS_CONV_PARAM_COUNT] = {&g.n,  &g.h,  &g.w,  &g.ci, &g.oh, &g.ow, &g.co, &g.kh,
                                   &g.kw, &g.sh, &g.sw, &g.dh, &g.dw, &g.pt, &g.pl};
    for (size_t k = 0; k < KS_CONV_PARAM_COUNT; k++) {
      *f[k] = static_cast<int>(p[k]);
      if (ok_ && k < KS_CONV_PAD_TOP && p[k] == 0) fail(i, "a zero size, stride or dilation");
    }
    return g;
  }

  int64_t i64(size_t i, int64_t min) {
    int64_t v = 0;
    if (!ok_) return v;
    if (napi_get_value_int64(env_, argv_[i], &v) != napi_ok) fail(i, "a number expected");
    else if (v < min) fail(i, "too small");
    return v;
  }

  float number(size_t i) {
    double v = 0;
    if (ok_ && napi_get_value_double(env_, argv_[i], &v) != napi_ok) fail(i, "a number expected");
    return static_cast<float>(v);
  }

  // A KsActivation code.
  int activation(size_t i) {
    int32_t v = 0;
    if (!ok_) return v;
    if (napi_get_value_int32(env_, argv_[i], &v) != napi_ok) fail(i, "a number expected");
    switch (v) {
      case KS_ACT_LINEAR:
      case KS_ACT_RELU:
      case KS_ACT_RELU6:
      case KS_ACT_LEAKYRELU:
      case KS_ACT_SIGMOID:
      case KS_ACT_ELU:
        return v;
      default:
        fail(i, "an unknown activation code (ks_abi.h)");
        return KS_ACT_LINEAR;
    }
  }

  void fail(size_t i, const char* what) {
    if (!ok_) return;
    ok_ = false;
    const std::string msg =
        std::string("ks_native.") + fn_ + ": argument " + std::to_string(i + 1) + ": " + what;
    napi_throw_type_error(env_, nullptr, msg.c_str());
  }

 private:
  napi_env env_;
  const char* fn_;
  napi_value argv_[MAX_ARGS] = {};
  bool ok_ = true;
};

// conv2d(x, w, bias | null, y, params, act, alpha)
napi_value Conv2D(napi_env env, napi_callback_info info) {
  Args a(env, info, "conv2d", 7);
  const Conv g = a.conv(4);
  float* x = a.f32(0, g.x_size());
  float* w = a.f32(1, g.w_size());
  float* bias = a.f32(2, g.co, true);
  float* y = a.f32(3, g.y_size());
  const int act = a.activation(5);
  const float alpha = a.number(6);
  if (a.ok()) conv_forward(g, x, w, bias, y, act, alpha);
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, params)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Args a(env, info, "conv2dBackpropFilter", 4);
  const Conv g = a.conv(3);
  float* x = a.f32(0, g.x_size());
  float* dy = a.f32(1, g.y_size());
  float* dw = a.f32(2, g.w_size());
  if (a.ok()) conv_backprop_filter(g, x, dy, dw);
  return nullptr;
}

// conv2dBackpropInput(dy, w, dx, params)
napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  Args a(env, info, "conv2dBackpropInput", 4);
  const Conv g = a.conv(3);
  float* dy = a.f32(0, g.y_size());
  float* w = a.f32(1, g.w_size());
  float* dx = a.f32(2, g.x_size());
  if (a.ok()) conv_backprop_input(g, dy, w, dx);
  return nullptr;
}

// matmul(a, b, bias | null, c, params, act, alpha)
napi_value MatMul(napi_env env, napi_callback_info info) {
  Args a(env, info, "matmul", 7);
  const std::vector<int64_t> p = a.i32s(4, KS_MATMUL_PARAM_COUNT);
  const int64_t batch = p[KS_MATMUL_BATCH], m = p[KS_MATMUL_M], n = p[KS_MATMUL_N],
                k = p[KS_MATMUL_K], ba = p[KS_MATMUL_BATCH_A], bb = p[KS_MATMUL_BATCH_B];
  if (a.ok() && (batch < 1 || m < 1 || n < 1 || k < 1 || (ba != 1 && ba != batch) ||
                 (bb != 1 && bb != batch))) {
    a.fail(4, "bad matmul params");
  }
  const float* lhs = a.f32(0, ba * m * k);
  const float* rhs = a.f32(1, bb * k * n);
  const float* bias = a.f32(2, n, true);
  float* out = a.f32(3, batch * m * n);
  const int act = a.activation(5);
  const float alpha = a.number(6);
  if (!a.ok()) return nullptr;
  matmul(lhs, rhs, bias, out, static_cast<int>(batch), static_cast<int>(m), static_cast<int>(n),
         static_cast<int>(k), p[KS_MATMUL_TRANSPOSE_A] != 0, p[KS_MATMUL_TRANSPOSE_B] != 0,
         ba == 1 ? 0 : m * k, bb == 1 ? 0 : k * n, act, alpha);
  return nullptr;
}

// sumRows(x, out, rows, cols)
napi_value SumRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumRows", 4);
  const int64_t rows = a.i64(2, 1), cols = a.i64(3, 1);
  float* x = a.f32(0, rows * cols);
  float* out = a.f32(1, cols);
  if (a.ok()) sum_rows(x, out, rows, cols);
  return nullptr;
}

// addBias(x, bias, out, rows, cols)
napi_value AddBias(napi_env env, napi_callback_info info) {
  Args a(env, info, "addBias", 5);
  const int64_t rows = a.i64(3, 1), cols = a.i64(4, 1);
  float* x = a.f32(0, rows * cols);
  float* bias = a.f32(1, cols);
  float* out = a.f32(2, rows * cols);
  if (a.ok()) add_bias(x, bias, out, rows, cols);
  return nullptr;
}

// threads(n?) -> the pool size (sets it first when n is a number).
napi_value Threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype vt = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc >= 1 &&
      napi_typeof(env, argv[0], &vt) == napi_ok && vt == napi_number) {
    int32_t n = 1;
    if (napi_get_value_int32(env, argv[0], &n) == napi_ok) pool().resize(n);
  }
  napi_value r = nullptr;
  napi_create_int32(env, pool().threads(), &r);
  return r;
}

// blas() -> OpenBLAS build and the core its kernels were picked for.
napi_value Blas(napi_env env, napi_callback_info) {
  const std::string s = std::string(openblas_get_config()) + " / " + openblas_get_corename();
  napi_value r = nullptr;
  napi_create_string_utf8(env, s.c_str(), s.size(), &r);
  return r;
}

napi_value Init(napi_env env, napi_value exports) {
  // OpenBLAS runs inside our chunks, one call per thread: its own threading stays off.
  openblas_set_num_threads(1);
  napi_value abi = nullptr;
  if (napi_create_int32(env, KS_ABI_VERSION, &abi) != napi_ok) return nullptr;
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {
      {"conv2d", Conv2D},   {"conv2dBackpropFilter", Conv2DBackpropFilter},
      {"conv2dBackpropInput", Conv2DBackpropInput},
      {"matmul", MatMul},   {"sumRows", SumRows},
      {"addBias", AddBias}, {"threads", Threads},
      {"blas", Blas},
  };
  std::vector<napi_property_descriptor> props;
  for (const auto& f : fns) {
    props.push_back({f.name, nullptr, f.fn, nullptr, nullptr, nullptr, napi_default, nullptr});
  }
  props.push_back({"abi", nullptr, nullptr, nullptr, nullptr, abi, napi_enumerable, nullptr});
  if (napi_define_properties(env, exports, props.size(), props.data()) != napi_ok) return nullptr;
  return exports;
}

}  // namespace
}  // namespace ks

NAPI_MODULE(NODE_GYP_MODULE_NAME, ks::Init)
