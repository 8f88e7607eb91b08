// Annotator region consistency (csrc/amodal/amodal_consistency.hpp): region_consistency over fuzzed
// images (annotators' region masks as compressed RLE strings or polygons, a fuzzed IoU threshold and
// every matching rule), and match_regions on a fuzzed IoU matrix. Findings besides sanitizer
// reports: an exception other than UsageError escaping, a failure without a reason, a pair list of
// the wrong length or order, more regions matched than there are, scores outside [0, 1].
//
// Input (fuzz_input.hpp): u8 matching (% 3); fuzz_double threshold; u8 images (% 3); per image u8
// height (% 33), u8 width (% 33), u8 annotators (% 4), per annotator u8 regions (% 4) each a mask.
// A mask: u8 tag, even: str16 RLE string, odd: u8 polygons (% 3) of u8 values (% 17) fuzz_double
// each. Then for the matrix: u8 rows (% 9), u8 columns (% 9), the IoUs as fuzz_double.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "amodal/amodal_consistency.hpp"
#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "mask_input.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

void check_pairs(const ConsistencyImageInput& image, const std::vector<PairScore>& pairs) {
  const std::size_t a = image.annotations.size();
  if (pairs.size() != a * (a > 0 ? a - 1 : 0)) finding("not one score per ordered annotator pair");
  std::size_t k = 0;
  for (std::uint32_t x = 0; x < a; ++x)
    for (std::uint32_t y = 0; y < a; ++y) {
      if (x == y) continue;
      const PairScore& p = pairs[k++];
      if (p.x != x || p.y != y) finding("pairs out of order");
      if (p.regions_x != static_cast<std::int64_t>(image.annotations[x].size()) ||
          p.regions_y != static_cast<std::int64_t>(image.annotations[y].size()))
        finding("region counts differ from the input");
      if (p.matched_x < 0 || p.matched_x > p.regions_x || p.matched_y < 0 || p.matched_y > p.regions_y)
        finding("more regions matched than there are");
      if (!in_unit(p.precision) || !in_unit(p.recall) || !in_unit(p.f)) finding("a score outside [0, 1]");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const auto matching = static_cast<RegionMatching>(in.u8() % 3);
  const double threshold = fuzz_double(in);
  const std::vector<ConsistencyImageInput> images = fuzz_annotated_images(in);
  try {
    const ConsistencyResult r = region_consistency(images, threshold, matching, 1);
    if (r.failed_image >= 0) {
      if (static_cast<std::size_t>(r.failed_image) >= images.size() || r.failure.empty())
        finding("a failure without an image or a reason");
    } else {
      if (r.images.size() != images.size()) finding("not one result per image");
      for (std::size_t i = 0; i < images.size(); ++i) check_pairs(images[i], r.images[i]);
    }
  } catch (const UsageError&) {
  }

  const std::size_t nx = in.u8() % 9, ny = in.u8() % 9;
  std::vector<double> ious(nx * ny);
  for (double& v : ious) v = fuzz_double(in);
  for (int rule = 0; rule < 3; ++rule) {
    std::int64_t mx = -1, my = -1;
    try {
      match_regions(ious.data(), nx, ny, threshold, static_cast<RegionMatching>(rule), mx, my);
    } catch (const UsageError&) {
      continue;
    }
    if (mx < 0 || my < 0 || mx > static_cast<std::int64_t>(nx) || my > static_cast<std::int64_t>(ny))
      finding("match_regions: counts outside the matrix");
    if (rule != 2 && mx != my) finding("match_regions: a one-to-one rule matched unequal counts");
  }
  return 0;
}
