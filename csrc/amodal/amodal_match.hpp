// The COCO Amodal (COCOA) evaluation's matching: class-agnostic proposals against the regions of
// an image, COCOeval's greedy rule, for every setting (kind x occlusion) and IoU threshold at
// once, from one IoU matrix.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastpq {

constexpr std::size_t kAmodalKinds = 3;       // all regions, things only, stuff only
constexpr std::size_t kAmodalOcclusions = 4;  // all [0, 1], none [0, 1e-5], partial [1e-5, 0.25], heavy [0.25, 1]
constexpr std::size_t kAmodalSettings = kAmodalKinds * kAmodalOcclusions;
constexpr std::size_t kAmodalThresholds = 10;
constexpr std::size_t kAmodalMaxDets = 4;  // 1, 10, 100, 1000 proposals
constexpr std::array<std::size_t, kAmodalMaxDets> kAmodalDetLimits = {1, 10, 100, 1000};

// Settings are indexed kind * kAmodalOcclusions + occlusion.
struct AmodalRegion {
  bool is_stuff;
  double occlude_rate;
};

// Integer counts, so that images add up exactly in any order.
struct AmodalCounts {
  // matched[setting][threshold][k]: regions not ignored in the setting that a proposal ranked
  // below kAmodalDetLimits[k] matched.
  std::vector<std::int64_t> matched = std::vector<std::int64_t>(kAmodalSettings * kAmodalThresholds * kAmodalMaxDets, 0);
  std::vector<std::int64_t> regions = std::vector<std::int64_t>(kAmodalSettings, 0);  // not ignored, per setting

  std::int64_t& at(std::size_t setting, std::size_t threshold, std::size_t k) {
    return matched[(setting * kAmodalThresholds + threshold) * kAmodalMaxDets + k];
  }
  void add(const AmodalCounts& other);
};

// True when a region counts in a setting (is not ignored there).
bool amodal_region_counts(const AmodalRegion& region, std::size_t setting);

// Matches one image. `ious` is row-major proposals x regions, proposals in the evaluation's order
// (score descending, ties in input order, at most 1000), regions in their JSON order.
// `thresholds` are the 10 IoU thresholds. Adds the image's counts to `out`.
void match_amodal_image(const double* ious, std::size_t proposals, const std::vector<AmodalRegion>& regions,
                        const double* thresholds, AmodalCounts& out);

}  // namespace fastpq
