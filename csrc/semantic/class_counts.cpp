#include "semantic/class_counts.hpp"

#include <string>

#include "common/errors.hpp"

namespace fastpq {

namespace {

void check(const ConfusionEntries& e, const ClassMap& m) {
  if (e.offsets[0] != 0 || static_cast<std::uint64_t>(e.offsets[e.n_images]) != e.n_entries)
    throw UsageError("confusion entry offsets must run from 0 to the number of entries");
  for (std::size_t i = 0; i < e.n_images; ++i)
    if (e.offsets[i + 1] < e.offsets[i]) throw UsageError("confusion entry offsets must not decrease");
  for (std::size_t r = 0; r < m.n_rows; ++r)
    if (m.row_class[r] < 0 || static_cast<std::uint64_t>(m.row_class[r]) > m.k)
      throw UsageError("row " + std::to_string(r) + " has class " + std::to_string(m.row_class[r]) + ", outside 0.." +
                       std::to_string(m.k));
  for (std::size_t c = 0; c < m.n_cols; ++c)
    if (m.col_class[c] < 0 || static_cast<std::uint64_t>(m.col_class[c]) > m.k)
      throw UsageError("column " + std::to_string(c) + " has class " + std::to_string(m.col_class[c]) +
                       ", outside 0.." + std::to_string(m.k));
  for (std::size_t x = 0; x < e.n_entries; ++x) {
    if (e.rows[x] < 0 || static_cast<std::uint64_t>(e.rows[x]) >= m.n_rows)
      throw UsageError("confusion entry " + std::to_string(x) + " has row " + std::to_string(e.rows[x]) +
                       ", outside [0, " + std::to_string(m.n_rows) + ")");
    if (e.cols[x] < 0 || static_cast<std::uint64_t>(e.cols[x]) >= m.n_cols)
      throw UsageError("confusion entry " + std::to_string(x) + " has column " + std::to_string(e.cols[x]) +
                       ", outside [0, " + std::to_string(m.n_cols) + ")");
  }
}

}  // namespace

void per_image_class_counts(const ConfusionEntries& e, const ClassMap& m, std::int64_t* tp, std::int64_t* gt,
                            std::int64_t* pred) {
  check(e, m);
  const std::size_t k = m.k;
  // Sums wrap as numpy's int64 sums do, instead of overflowing a signed integer.
  auto add = [](std::int64_t& cell, std::int64_t n) {
    cell = static_cast<std::int64_t>(static_cast<std::uint64_t>(cell) + static_cast<std::uint64_t>(n));
  };
  for (std::size_t i = 0; i < e.n_images; ++i) {
    std::int64_t* const t = tp + i * k;
    std::int64_t* const g = gt + i * k;
    std::int64_t* const p = pred + i * k;
    for (std::size_t c = 0; c < k; ++c) t[c] = g[c] = p[c] = 0;
    for (auto x = static_cast<std::size_t>(e.offsets[i]); x < static_cast<std::size_t>(e.offsets[i + 1]); ++x) {
      const auto row = static_cast<std::size_t>(e.rows[x]);
      const auto rc = static_cast<std::size_t>(m.row_class[row]);
      const auto cc = static_cast<std::size_t>(m.col_class[static_cast<std::size_t>(e.cols[x])]);
      const std::int64_t n = e.counts[x];
      if (rc < k) {
        add(g[rc], n);
        if (rc == cc) add(t[rc], n);
      }
      if (cc < k && (m.counted_rows == nullptr || m.counted_rows[row])) add(p[cc], n);
    }
  }
}

}  // namespace fastpq
