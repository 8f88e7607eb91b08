// Lookup of a segment's position in one image's segment table by its id.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace fastpq {

// (segment id, table position) pairs sorted by id, then position.
using SegmentIndex = std::vector<std::pair<std::int64_t, std::size_t>>;

inline void build_segment_index(const std::int64_t* ids, std::size_t n, SegmentIndex& index) {
  index.resize(n);
  for (std::size_t i = 0; i < n; ++i) index[i] = {ids[i], i};
  std::sort(index.begin(), index.end());
}

// Position of segment `id` in its table (the first one where the id repeats), or -1.
inline std::ptrdiff_t find_segment(const SegmentIndex& index, std::int64_t id) {
  auto it = std::lower_bound(index.begin(), index.end(), std::make_pair(id, std::size_t{0}));
  if (it == index.end() || it->first != id) return -1;
  return static_cast<std::ptrdiff_t>(it->second);
}

}  // namespace fastpq
