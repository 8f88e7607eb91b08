#include "panoptic/panoptic_ids.hpp"

#include <algorithm>
#include <unordered_map>

#include "common/box.hpp"
#include "common/errors.hpp"

namespace fastpq {

namespace {

// splitmix64: a small, well-mixed generator whose output depends only on its input.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr int kMaxDistance = 30;          // panopticapi's max_dist
constexpr std::uint64_t kRandomTries = 4096;  // then the nearest free id above the colour's is taken

}  // namespace

SegmentIdGenerator::SegmentIdGenerator(const CategoryTable& categories)
    : categories_(categories), draws_(categories.size(), 0) {
  taken_.insert(0);
  for (std::size_t c = 0; c < categories.size(); ++c)
    if (!categories.isthing[c]) taken_.insert(color_to_id(categories.colors[c]));
}

std::uint32_t SegmentIdGenerator::next(std::size_t category) {
  const auto& base = categories_.colors.at(category);
  const std::uint32_t base_id = color_to_id(base);
  if (!categories_.isthing[category]) return base_id;
  if (taken_.insert(base_id).second) return base_id;
  const std::uint64_t seed = static_cast<std::uint64_t>(static_cast<std::uint32_t>(categories_.ids[category])) << 32;
  for (std::uint64_t tries = 0; tries < kRandomTries; ++tries) {
    std::uint64_t r = mix(seed ^ draws_[category]++);
    std::array<std::uint8_t, 3> color{};
    for (int k = 0; k < 3; ++k) {
      int v = base[k] + static_cast<int>(r % (2 * kMaxDistance + 1)) - kMaxDistance;
      r /= (2 * kMaxDistance + 1);
      color[k] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
    }
    const std::uint32_t id = color_to_id(color);
    if (taken_.insert(id).second) return id;
  }
  for (std::uint32_t k = 1; k < (1u << 24); ++k) {
    const std::uint32_t id = (base_id + k) & 0xffffffu;
    if (id != 0 && taken_.insert(id).second) return id;
  }
  throw UsageError("no free segment id is left: an image cannot have more than 2**24 - 1 segments");
}

std::vector<SegmentStats> segment_stats(const std::uint32_t* ids, std::uint32_t h, std::uint32_t w) {
  std::unordered_map<std::uint32_t, Box> boxes;
  std::uint32_t last_id = 0;
  Box* last = nullptr;
  for (std::uint32_t y = 0; y < h; ++y) {
    const std::uint32_t* row = ids + static_cast<std::size_t>(y) * w;
    for (std::uint32_t x = 0; x < w;) {
      const std::uint32_t id = row[x];
      std::uint32_t end = x + 1;
      while (end < w && row[end] == id) ++end;  // a run of one id is counted at once
      if (id != 0) {
        if (!last || id != last_id) last = &boxes[id], last_id = id;
        last->add_run(y, x, end - 1, end - x);
      }
      x = end;
    }
  }
  std::vector<SegmentStats> out;
  out.reserve(boxes.size());
  for (const auto& [id, b] : boxes) out.push_back({id, b.area, b.bbox()});
  std::sort(out.begin(), out.end(), [](const SegmentStats& a, const SegmentStats& b) { return a.id < b.id; });
  return out;
}

}  // namespace fastpq
