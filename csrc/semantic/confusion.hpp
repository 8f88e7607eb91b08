// The semantic pass: for each (ground truth, prediction[, instances]) label-map pair, read both
// once, map every label through a lookup table and count the confusion matrix (and, with instance
// maps, the pixels of every instance by predicted column), in parallel over images.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "png/inflate.hpp"

namespace fastpq {

// One label map: a file, PNG bytes in memory, or a row-major 2-D integer array.
struct LabelSource {
  enum Kind { kFile, kMemory, kArray };
  enum Type { kU8, kI8, kU16, kI16, kU32, kI32, kU64, kI64 };
  Kind kind = kFile;
  std::string name;  // the path, or a name for messages
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;  // bytes (kMemory)
  Type type = kU8;       // kArray
  std::size_t height = 0, width = 0;
};

// Lookup codes: >= 0 an index; kSkip leaves the pixel out; kRefuse makes it an error.
constexpr std::int32_t kSkip = -1, kRefuse = -2;

struct LabelTable {
  std::vector<std::int32_t> lut;      // code of each value 0..size-1
  std::vector<std::int64_t> skipped;  // values outside the table that are skipped (negative ignore values)
  std::int32_t other = kRefuse;       // code of any other value (negative, or past the table)
  std::int32_t code(std::int64_t v) const {
    return (v >= 0 && v < static_cast<std::int64_t>(lut.size())) ? lut[static_cast<std::size_t>(v)] : outside(v);
  }
  std::int32_t outside(std::int64_t v) const {
    for (const std::int64_t s : skipped)
      if (s == v) return kSkip;
    return other;
  }
};

struct SemanticOptions {
  std::int32_t n_rows = 0, n_cols = 0;
  std::int64_t instance_min = 1000;
  int workers = 0;
  std::uint64_t max_pixels = std::uint64_t{1} << 27;
  InflateBackend inflate = InflateBackend::kDefault;
};

struct SparseCount {
  std::int64_t row;  // confusion: matrix row; instances: instance value
  std::int32_t col;
  std::uint64_t count;
};

struct SemanticImage {
  std::vector<SparseCount> confusion;  // nonzero entries, sorted
  std::vector<SparseCount> instances;  // (instance value, column or n_cols for a skipped prediction)
  std::uint32_t height = 0, width = 0;
};

struct SemanticResult {
  std::vector<std::uint64_t> confusion;  // n_rows x n_cols, row-major
  std::vector<SemanticImage> images;
  std::uint64_t pixels = 0;
};

// Throws FormatError (FileNotFound) for the first image in order that cannot be read or holds a
// refused label, naming the file, the value and its first pixel; UsageError for bad arguments.
SemanticResult semantic_confusion(const std::vector<LabelSource>& gt, const std::vector<LabelSource>& pred,
                                  const std::vector<LabelSource>* instances, const LabelTable& gt_table,
                                  const LabelTable& pred_table, const SemanticOptions& options);

// Decodes one source into int64 labels (row-major), for messages and tests.
void read_labels(const LabelSource& source, std::uint64_t max_pixels, InflateBackend inflate,
                 std::vector<std::int64_t>& out, std::uint32_t& height, std::uint32_t& width);

}  // namespace fastpq
