{
  "targets": [
    {
      "target_name": "ks_native",
      "sources": ["src/pool.cc", "src/conv.cc", "src/gemm.cc", "src/napi.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"],
      "libraries": ["-lopenblas", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
