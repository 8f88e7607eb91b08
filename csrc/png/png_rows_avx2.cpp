// Row kernels for processors with AVX2 (compiled with -mavx2, used only when the CPU has it).
#include "png/png_rows_impl.hpp"

namespace fastpq {
namespace rows_avx2 {
const RowKernels kernels = {decode_row, id_row_runs, "avx2"};
}  // namespace rows_avx2
}  // namespace fastpq
