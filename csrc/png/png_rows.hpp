// Row kernels of the PNG reader. A row is kept only as its runs of equal ids: each PNG filter is
// applied to the runs of the row above plus the pixels whose residual is not zero, so the work
// per row follows its segment boundaries rather than its bytes, and alpha is never computed
// (it cannot affect R, G or B). The kernels are compiled once per instruction set
// (png_rows_generic.cpp, png_rows_avx2.cpp) and chosen at run time, so this header and those
// files use no standard-library templates.
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
  // Decodes one row: `row` is its filter type byte (0-4, checked by the caller) followed by the
  // residual bytes of `width` pixels of `bpp` (1 to 4) bytes. Given the runs of the row above
  // (`up`, one run of id 0 for the first row), writes the row's runs to `out` (room for
  // width + 1) and returns their number, or 0 when the row repeats the row above (an Up row
  // without residual). Folds the row's bytes into the Adler-32 `*adler`. `bits` is scratch
  // space for row_scratch_words(width, bpp) words; `row` must have 16 readable bytes past its end.
  std::size_t (*decode_row)(const std::uint8_t* row, std::size_t width, int bpp, const Run* up, Run* out,
                            std::uint32_t* adler, std::uint32_t* bits);
  // Writes the runs of a row of `width` uint32 ids (not range-checked) to `out` (room for
  // width + 1); returns their number.
  std::size_t (*id_row_runs)(const std::uint32_t* row, std::size_t width, Run* out);
  const char* name;
};

// The words of decode_row's bitmap of a row's non-zero bytes (filter byte included), 32 to a word.
inline std::size_t row_bit_words(std::size_t width, int bpp) {
  return (1 + width * static_cast<std::size_t>(bpp)) / 32 + 1;
}

// The scratch words decode_row needs: the bitmap, then a bit per bitmap word (any non-zero), 64 to
// a pair of words.
inline std::size_t row_scratch_words(std::size_t width, int bpp) {
  const std::size_t words = row_bit_words(width, bpp);
  return words + 2 * ((words + 63) / 64);
}

// The fastest kernels this processor runs.
const RowKernels& row_kernels();

namespace rows_generic {
extern const RowKernels kernels;
}
namespace rows_avx2 {
extern const RowKernels kernels;
}

}  // namespace fastpq
