// Running independent items on worker threads: OpenMP when the build has it, std::thread
// otherwise. Callers keep their own per-item results, so the order of completion never matters.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#ifdef FASTPQ_HAVE_OPENMP
#include <omp.h>
#endif

namespace fastpq {

// The number of threads `workers` resolves to: all cores for 0 or less.
inline int resolve_workers(int workers) {
  if (workers > 0) return workers;
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

// Calls f(i) for i in [0, n), items handed out one at a time to at most `workers` threads (never
// more than there are items). f must not throw.
template <typename F>
void parallel_for(std::int64_t n, int workers, F f) {
  const int threads = static_cast<int>(std::min<std::int64_t>(resolve_workers(workers), std::max<std::int64_t>(n, 1)));
#ifdef FASTPQ_HAVE_OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t i = 0; i < n; ++i) f(i);
#else
  std::atomic<std::int64_t> next{0};
  auto work = [&] {
    for (std::int64_t i; (i = next++) < n;) f(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
#endif
}

}  // namespace fastpq
