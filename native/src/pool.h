// Thread pool of the ks_native kernels (the addon's contract: ../ks_abi.h).
//
// Workers block on a condition variable between jobs (no spinning: the machine is shared).
// for_each(n, fn) runs fn(i) for every task i in [0, n) on the calling thread and on
// whichever workers wake up in time, each taking the next task from a shared counter (so a
// descheduled worker delays one task, not a fixed share). Which thread runs a task varies, so
// every kernel makes a task's result independent of that: disjoint outputs, or per-task partial
// sums reduced in task order. Task boundaries depend on the shapes only: results are the same
// for any thread count. Workers are detached and never destroyed (process exit ends them).
#ifndef KS_POOL_H_
#define KS_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

namespace ks {

using TaskFn = std::function<void(int64_t)>;

class Pool {
 public:
  int threads() const { return threads_; }
  void resize(int n);
  void for_each(int64_t n, const TaskFn& fn);

 private:
  static void work(const TaskFn& fn, std::atomic<int64_t>& next, int64_t n);
  void loop(int id, uint64_t seen);

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

// The process-wide pool (never destroyed: detached workers may outlive static destructors).
Pool& pool();

// Fixed split of [0, n) into `parts` contiguous ranges (range i of parts).
inline void part(int64_t n, int64_t i, int64_t parts, int64_t* b, int64_t* e) {
  *b = n * i / parts;
  *e = n * (i + 1) / parts;
}

// Partial sums are kept per group of tasks: at most this many groups.
constexpr int64_t MAX_GROUPS = 16;

// Per-thread scratch memory of at least n floats (valid until the next call on this thread).
float* scratch(size_t n);

}  // namespace ks

#endif  // KS_POOL_H_
