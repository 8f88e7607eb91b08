// The COCOA (amodal) evaluation: evaluate_amodal over fuzzed images (masks as compressed RLE
// strings or polygons, regions' stuff flags and occlusion rates, proposals' scores, thresholds),
// and match_amodal_image on a fuzzed IoU matrix. NaN occlusion rates and scores are replaced by 0,
// as the Python layer refuses them. Findings besides sanitizer reports: an exception other than
// UsageError escaping, a failure without a reason, counts that break the evaluation's invariants.
//
// Input (fuzz_input.hpp): u8 flags (1: fuzzed thresholds, 10 fuzz_double; 2: 9 thresholds;
// 4: one proposal score too few); u8 images (% 3); per image u8 height (% 33), u8 width (% 33),
// u8 regions (% 5) each a mask, a u8 stuff flag and a fuzz_double occlusion; u8 proposals (% 6)
// each a mask and a fuzz_double score. A mask: u8 tag, even: str16 RLE string, odd: u8 polygons
// (% 3) of u8 values (% 17) fuzz_double each. Then for the matrix: u8 proposals (% 31), u8
// regions (% 9), region flags and occlusions, and the IoUs as fuzz_double.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "amodal/amodal_engine.hpp"
#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "mask_input.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

double not_nan(double v) { return std::isnan(v) ? 0.0 : v; }

AmodalRegion region(ByteReader& in) {
  const bool stuff = in.u8() & 1;
  return {stuff, not_nan(fuzz_double(in))};
}

void check_counts(const AmodalCounts& c) {
  for (std::size_t s = 0; s < kAmodalSettings; ++s)
    for (std::size_t t = 0; t < kAmodalThresholds; ++t)
      for (std::size_t k = 0; k < kAmodalMaxDets; ++k) {
        auto& counts = const_cast<AmodalCounts&>(c);
        const std::int64_t m = counts.at(s, t, k);
        if (m < 0 || m > c.regions[s]) finding("more regions matched than there are");
        if (k > 0 && m < counts.at(s, t, k - 1)) finding("more proposals matched fewer regions");
      }
}

std::vector<double> default_thresholds() {
  std::vector<double> t;
  for (int i = 0; i < 10; ++i) t.push_back(0.5 + 0.05 * i);
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::uint8_t flags = in.u8();
  std::vector<double> thresholds = default_thresholds();
  if (flags & 1)
    for (double& t : thresholds) t = fuzz_double(in);
  if (flags & 2) thresholds.pop_back();

  std::vector<AmodalImageInput> images(in.u8() % 3);
  for (AmodalImageInput& image : images) {
    image.height = in.u8() % 33;
    image.width = in.u8() % 33;
    for (int r = in.u8() % 5; r > 0; --r) {
      image.regions.push_back(fuzz_mask(in));
      image.region_info.push_back(region(in));
    }
    for (int p = in.u8() % 6; p > 0; --p) {
      image.proposals.push_back(fuzz_mask(in));
      image.scores.push_back(not_nan(fuzz_double(in)));
    }
  }
  if ((flags & 4) && !images.empty() && !images[0].scores.empty()) images[0].scores.pop_back();

  try {
    const AmodalEvaluation r = evaluate_amodal(images, thresholds, 1, true);
    if (r.failed_image >= 0) {
      if (static_cast<std::size_t>(r.failed_image) >= images.size() || r.failure.empty())
        finding("a failure that names no image or gives no reason");
    } else {
      check_counts(r.counts);
      AmodalCounts sum;
      for (const AmodalCounts& c : r.images) {
        check_counts(c);
        sum.add(c);
      }
      if (sum.matched != r.counts.matched || sum.regions != r.counts.regions) finding("images do not add up");
    }
  } catch (const UsageError&) {
  }

  // The matching alone, on an arbitrary IoU matrix.
  const std::size_t proposals = in.u8() % 31, regions = in.u8() % 9;
  std::vector<AmodalRegion> info;
  for (std::size_t r = 0; r < regions; ++r) info.push_back(region(in));
  std::vector<double> ious(proposals * regions);
  for (double& v : ious) v = fuzz_double(in);
  if (thresholds.size() == kAmodalThresholds) {
    AmodalCounts counts;
    match_amodal_image(ious.data(), proposals, info, thresholds.data(), counts);
    check_counts(counts);
  }
  return 0;
}
