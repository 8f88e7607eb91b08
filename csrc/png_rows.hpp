// Row kernels of the PNG reader: unfilter one row and find its runs of equal ids in one pass.
// They are compiled once per instruction set (png_rows_generic.cpp, png_rows_avx2.cpp) and
// chosen at run time, so this header and those files use no standard-library templates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastpq {

// Maximal run of equal ids in a row: pixels [previous run's end, end) hold `id`.
struct Run {
  std::uint32_t end;
  std::uint32_t id;
};

struct RowKernels {
  // Unfilters a row of `n` bytes (filter type 0-4, `bpp` 3 or 4) into `out`, given the
  // unfiltered row above (`up`, zeros for the first row), and writes its runs to `runs`
  // (room for n / bpp + 1 of them). Returns the number of runs. `out` and `up` have 64 bytes of
  // writable padding after the row, `res` at least 16 readable.
  std::size_t (*decode_row)(std::uint8_t filter, const std::uint8_t* res, const std::uint8_t* up,
                            std::uint8_t* out, std::size_t n, int bpp, Run* runs);
  // True when all `n` bytes are zero.
  bool (*all_zero)(const std::uint8_t* p, std::size_t n);
  const char* name;
};

// The fastest kernels this processor runs.
const RowKernels& row_kernels();

namespace rows_generic {
extern const RowKernels kernels;
}
namespace rows_avx2 {
extern const RowKernels kernels;
}

}  // namespace fastpq
