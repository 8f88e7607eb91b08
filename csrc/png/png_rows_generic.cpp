// Row kernels for any processor: SSE2 on x86-64 (its baseline), portable code elsewhere.
#include "png/png_rows_impl.hpp"

#include <cstdlib>
#include <cstring>

namespace fastpq {
namespace {
[[maybe_unused]] bool forced_generic() {
  const char* v = std::getenv("FASTPQ_ROW_KERNELS");
  return v && std::strcmp(v, "generic") == 0;
}
}  // namespace

namespace rows_generic {
#if defined(__SSE2__)
const RowKernels kernels = {decode_row, id_row_runs, "sse2"};
#else
const RowKernels kernels = {decode_row, id_row_runs, "portable"};
#endif
}  // namespace rows_generic

const RowKernels& row_kernels() {
#if defined(FASTPQ_HAVE_AVX2_KERNELS)
  // FASTPQ_ROW_KERNELS=generic forces the baseline kernels (tests compare the two).
  static const bool avx2 = __builtin_cpu_supports("avx2") && !forced_generic();
  if (avx2) return rows_avx2::kernels;
#endif
  return rows_generic::kernels;
}

}  // namespace fastpq
