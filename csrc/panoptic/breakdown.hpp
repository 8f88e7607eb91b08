// Breakdowns of a panoptic evaluation computed from each image's joint histogram and matches:
// PQ by segment size, and parsing covering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "panoptic/joint_histogram.hpp"
#include "panoptic/pq_match.hpp"

namespace fastpq {

// COCO's area thresholds, 32^2 and 96^2, as a partition: small < 1024 <= medium < 9216 <= large.
enum SizeBucket : int { kSmall = 0, kMedium = 1, kLarge = 2 };
constexpr int kSizeBuckets = 3;
constexpr std::uint64_t kMediumFrom = 32 * 32, kLargeFrom = 96 * 96;
inline SizeBucket size_bucket(std::uint64_t pixels) {
  return pixels < kMediumFrom ? kSmall : pixels < kLargeFrom ? kMedium : kLarge;
}

// One image's matches split by size: a match and a false negative go by the GT segment's pixel
// count in the GT PNG, a false positive by the prediction's own pixel count (both as
// match_segments counted them into `scratch`).
void split_by_size(const ImageMatches& matches, const MatchScratch& scratch, ImageMatches (&out)[kSizeBuckets]);

// One category's parsing covering sums over the GT segments of one image: sum of |R| * best IoU
// and sum of |R|, in pixels and in fractions of the image's pixels.
struct CoveringSums {
  std::int32_t category;
  double weighted_iou, gt_area, weighted_iou_normalized, gt_area_normalized;
};

// Parsing covering of one image as TensorFlow DeepLab's ParsingCovering computes it, with COCO
// panoptic's void (GT id 0, or any id outside the GT table), crowd segments and segments of
// unknown category as its ignored label: their pixels count neither in GT nor in predicted areas.
// `out` gets one entry per category with GT pixels, in increasing category order; `scratch` is
// what match_segments left of this image.
void parsing_covering(const std::vector<HistEntry>& entries, const GtSegments& gt, const PredSegments& pred,
                      const MatchScratch& scratch, std::vector<CoveringSums>& out,
                      std::vector<std::uint64_t>& pred_pixels, std::vector<double>& best_iou);

// Per-category parsing covering sums over a dataset.
struct CoveringTotals {
  std::vector<double> weighted_iou, gt_area, weighted_iou_normalized, gt_area_normalized;
  explicit CoveringTotals(std::size_t n = 0)
      : weighted_iou(n, 0.0), gt_area(n, 0.0), weighted_iou_normalized(n, 0.0), gt_area_normalized(n, 0.0) {}
  bool fits(std::size_t n) const {
    return weighted_iou.size() == n && gt_area.size() == n && weighted_iou_normalized.size() == n &&
           gt_area_normalized.size() == n;
  }
  bool empty() const {
    return weighted_iou.empty() && gt_area.empty() && weighted_iou_normalized.empty() && gt_area_normalized.empty();
  }
  void add(const std::vector<CoveringSums>& image);
};

}  // namespace fastpq
