// Segment ids of COCO panoptic maps: choosing new ids the way panopticapi's IdGenerator does, but
// deterministically, and measuring the segments of an id map (area, bounding box).
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace fastpq {

// The categories an output may use: COCO panoptic category ids, whether each is a thing, and its
// colour (R, G, B). Row i describes category index i.
struct CategoryTable {
  std::vector<std::int32_t> ids;
  std::vector<std::uint8_t> isthing;
  std::vector<std::array<std::uint8_t, 3>> colors;

  std::size_t size() const { return ids.size(); }
};

// A segment id is the colour R + 256 G + 65536 B of its pixels in the panoptic PNG.
inline std::uint32_t color_to_id(const std::array<std::uint8_t, 3>& c) {
  return static_cast<std::uint32_t>(c[0]) + 256u * c[1] + 65536u * c[2];
}

// Hands out the segment ids of one image, following panopticapi's IdGenerator: a stuff segment
// takes its category's colour; the first thing segment of a category takes the category colour
// when no stuff category and no earlier segment has it, later ones a colour within 30 of it in each
// channel (clipped to 0..255) that is not taken yet. panopticapi draws those colours from numpy's
// global random state; here they come from a fixed pseudo-random sequence per category, so the
// same image always gets the same ids whatever the thread or image order. Id 0 (void) is never
// given out.
class SegmentIdGenerator {
 public:
  explicit SegmentIdGenerator(const CategoryTable& categories);
  // The id of a new segment of category index `category`.
  std::uint32_t next(std::size_t category);

 private:
  const CategoryTable& categories_;
  std::unordered_set<std::uint32_t> taken_;
  std::vector<std::uint64_t> draws_;  // per category: pseudo-random colours drawn so far
};

// One segment of an id map: its pixel count and bounding box [x, y, width, height].
struct SegmentStats {
  std::uint32_t id = 0;
  std::uint64_t area = 0;
  std::array<std::uint32_t, 4> bbox{};
};

// The segments of a row-major h x w id map, ascending by id; id 0 (void) is left out.
std::vector<SegmentStats> segment_stats(const std::uint32_t* ids, std::uint32_t h, std::uint32_t w);

}  // namespace fastpq
