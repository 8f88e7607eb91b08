// Matching the segments of one image pair from their joint histogram, with panopticapi's rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "panoptic/joint_histogram.hpp"
#include "panoptic/segment_index.hpp"

namespace fastpq {

// Ground-truth segments of one image, in the order of panopticapi's segments dict.
// `category` is an index into the evaluation's category list, -1 for an unknown category.
struct GtSegments {
  const std::int64_t* id;
  const std::int32_t* category;
  const std::uint8_t* iscrowd;
  const double* area;  // from the JSON, as panopticapi uses it
  std::size_t size;
};

// Predicted segments of one image, in the order of panopticapi's segments dict.
struct PredSegments {
  const std::int64_t* id;
  const std::int32_t* category;
  std::size_t size;
};

// What one image contributes, in the order panopticapi adds it up.
struct ImageMatches {
  std::vector<std::pair<std::int32_t, double>> matches;  // (category, IoU) in (gt id, pred id) order
  std::vector<std::int32_t> false_negatives;            // category of each, in GT segment order
  std::vector<std::int32_t> false_positives;            // category of each, in pred segment order
  // The segment (index into the image's GT or prediction table) behind each entry above.
  std::vector<std::uint32_t> match_gt, false_negative_gt, false_positive_pred;
  void clear() {
    matches.clear();
    false_negatives.clear();
    false_positives.clear();
    match_gt.clear();
    false_negative_gt.clear();
    false_positive_pred.clear();
  }
};

// Per-image, per-category sums as columns, one row per (image, category) with any TP, FP or FN:
// rows of an image are in the order its categories first appear (matches, then FNs, then FPs).
struct ImageRows {
  std::vector<std::int64_t> image, tp, fp, fn;
  std::vector<std::int32_t> category;
  std::vector<double> iou;
};
ImageRows image_rows(const std::vector<ImageMatches>& images);

// What the matching decided for one segment.
enum class SegmentStatus : std::uint8_t {
  kMatched = 0,    // a true positive
  kUnmatched = 1,  // GT: a false negative (counted nowhere when its category is unknown); pred: a false positive
  kIgnored = 2,    // GT: a crowd region; pred: mostly void or crowd of its category, so not a false positive
};

// Per-segment decisions of one image, in table order; filled only when asked for.
struct SegmentDecisions {
  std::vector<SegmentStatus> gt_status, pred_status;
  std::vector<std::int64_t> gt_match, pred_match;  // table index of the matched segment, -1 when none
  std::vector<double> gt_iou, pred_iou;            // IoU of the match, 0 when unmatched
};

// A prediction (or ground truth) that contradicts its PNG; panopticapi raises KeyError for the
// first three kinds.
class SegmentError : public std::runtime_error {
 public:
  enum Kind { kPngIdNotInJson, kUnknownCategory, kJsonIdsNotInPng, kBadArea };
  SegmentError(Kind kind, std::int64_t segment_id, std::vector<std::int64_t> ids, const std::string& what)
      : std::runtime_error(what), kind(kind), segment_id(segment_id), ids(std::move(ids)) {}
  Kind kind;
  std::int64_t segment_id;
  std::vector<std::int64_t> ids;  // for kJsonIdsNotInPng: the missing ids, in JSON order
};

// What Boundary IoU needs of one image pair (see boundary_band.hpp): pixel counts per
// (gt label, pred label) over pixels lying in both boundary maps, and each id's band size; all
// sorted by (gt, pred). In `gt_band` the id is in `gt`, in `pred_band` in `pred`.
struct BoundaryCounts {
  std::vector<HistEntry> pairs, gt_band, pred_band;
};

// Scratch space reused across images by one thread.
struct MatchScratch {
  SegmentIndex gt_index, pred_index;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> pred_pixels;
  std::vector<std::uint64_t> pred_area, pred_void;
  std::vector<std::uint64_t> gt_pixels;  // each GT segment's pixels in the GT PNG (its JSON area is in GtSegments)
  std::vector<std::uint8_t> pred_present, gt_matched, pred_matched;
  std::vector<std::int64_t> crowd_of_category;  // GT segment index, -1 for none
};

// Applies panopticapi's checks and matching to one image. `entries` must be sorted.
// Throws SegmentError for the inconsistencies panopticapi refuses.
// With `boundary`, a pair's IoU is min(mask IoU, boundary IoU), for matching and for the sums,
// as the Boundary IoU API's Boundary PQ does. With `decisions`, also says what was decided for
// each segment.
void match_segments(const std::vector<HistEntry>& entries, const GtSegments& gt, const PredSegments& pred,
                    std::int32_t n_categories, ImageMatches& out, MatchScratch& scratch,
                    const BoundaryCounts* boundary = nullptr, SegmentDecisions* decisions = nullptr);

}  // namespace fastpq
