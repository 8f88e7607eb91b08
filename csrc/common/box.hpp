// The area and bounding box of one segment, accumulated pixel by pixel or run by run; shared by
// the combination heuristic and segment_stats so that both report COCO's [x, y, width, height].
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace fastpq {

struct Box {
  std::uint64_t area = 0;
  std::uint32_t x0 = std::numeric_limits<std::uint32_t>::max(), y0 = x0, x1 = 0, y1 = 0;

  void add(std::uint32_t x, std::uint32_t y) {
    ++area;
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  // `count` pixels of row y, the first at x = first and the last at x = last.
  void add_run(std::uint32_t y, std::uint32_t first, std::uint32_t last, std::uint32_t count) {
    area += count;
    x0 = std::min(x0, first), x1 = std::max(x1, last), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  // [x, y, width, height]; only meaningful once a pixel was added.
  std::array<std::uint32_t, 4> bbox() const { return {x0, y0, x1 - x0 + 1, y1 - y0 + 1}; }
};

}  // namespace fastpq
