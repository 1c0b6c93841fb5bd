// Thread pool of the ks_native kernels: see pool.h.
#include "pool.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace ks {

void Pool::resize(int n) {
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

void Pool::for_each(int64_t n, const TaskFn& fn) {
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

void Pool::work(const TaskFn& fn, std::atomic<int64_t>& next, int64_t n) {
  for (;;) {
    const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
    if (i >= n) return;
    fn(i);
  }
}

void Pool::loop(int id, uint64_t seen) {
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

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed (see pool.h)
  return *p;
}

static thread_local std::vector<float> tl_scratch;
float* scratch(size_t n) {
  if (tl_scratch.size() < n) tl_scratch.resize(n);
  return tl_scratch.data();
}

}  // namespace ks
