// Per-image class tables from the per-image confusion entries of a semantic evaluation, for the
// presets whose reference arithmetic works image by image (ADE20K's per-image unions, mmseg's and
// torchmetrics' per-image histograms).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastpq {

// Image i owns entries offsets[i]..offsets[i+1]: `counts[e]` pixels of confusion cell
// (rows[e], cols[e]).
struct ConfusionEntries {
  const std::int64_t* offsets = nullptr;  // n_images + 1
  std::size_t n_images = 0;
  const std::int64_t* rows = nullptr;
  const std::int64_t* cols = nullptr;
  const std::int64_t* counts = nullptr;
  std::size_t n_entries = 0;
};

// The scored class of each row and column, in 0..k (k: not scored); `counted_rows` (or null for
// all) says on which rows a predicted column counts towards `pred`.
struct ClassMap {
  const std::int64_t* row_class = nullptr;
  std::size_t n_rows = 0;
  const std::int64_t* col_class = nullptr;
  std::size_t n_cols = 0;
  const std::uint8_t* counted_rows = nullptr;  // n_rows flags, or null
  std::size_t k = 0;
};

// Fills tp, gt and pred (each n_images x k, row-major): per image and scored class c, the pixels
// of a row of class c predicted as a column of class c, all pixels of rows of class c, and the
// pixels predicted as columns of class c on counted rows. Throws UsageError, before writing,
// when an offset, row, column or class lies outside its range.
void per_image_class_counts(const ConfusionEntries& entries, const ClassMap& classes, std::int64_t* tp,
                            std::int64_t* gt, std::int64_t* pred);

}  // namespace fastpq
