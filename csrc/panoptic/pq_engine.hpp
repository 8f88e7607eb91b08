// Panoptic quality over a dataset of image pairs: decode, histogram and match each pair in
// parallel, then add the per-category statistics up in one fixed order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "panoptic/boundary_band.hpp"
#include "panoptic/breakdown.hpp"
#include "png/inflate.hpp"
#include "panoptic/joint_histogram.hpp"
#include "common/parallel.hpp"
#include "panoptic/category_confusion.hpp"
#include "panoptic/pq_match.hpp"

namespace fastpq {

// The segment tables of all images, concatenated; image i owns [offsets[i], offsets[i+1]).
struct SegmentTables {
  std::vector<std::int64_t> gt_offsets, gt_ids;
  std::vector<std::int32_t> gt_categories;
  std::vector<std::uint8_t> gt_iscrowd;
  std::vector<double> gt_areas;
  std::vector<std::int64_t> pred_offsets, pred_ids;
  std::vector<std::int32_t> pred_categories;
  std::int32_t n_categories = 0;

  std::size_t size() const { return gt_offsets.empty() ? 0 : gt_offsets.size() - 1; }
  // Throws UsageError when the arrays do not fit together.
  void validate() const;
  GtSegments gt(std::size_t image) const;
  PredSegments pred(std::size_t image) const;
};

// A view of PNG bytes held by the caller; a null `data` means "read the file instead".
struct PngBytes {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

// A dataset of PNG pairs: one ground-truth and one prediction PNG per image, read from the files
// named, or (where `gt_data` / `pred_data` are non-empty and hold bytes for an image) decoded from
// memory, the file name then naming the bytes in messages (a URL they were fetched from).
struct PanopticDataset {
  std::vector<std::string> gt_files, pred_files;
  SegmentTables tables;
  std::vector<PngBytes> gt_data, pred_data;
};

// A batch in memory: `count` pairs of row-major id maps of height x width, each batch contiguous.
struct IdMapBatch {
  IdMapView gt{nullptr, IdType::kU32};
  IdMapView pred{nullptr, IdType::kU32};
  std::size_t gt_item_bytes = 0, pred_item_bytes = 0;  // bytes of one map
  std::size_t count = 0, height = 0, width = 0;
};

// Breakdowns computed in the same pass, on request.
struct BreakdownOptions {
  bool by_size = false;
  bool covering = false;
  bool boundary = false;
  double boundary_dilation_ratio = 0.02;  // band width as a fraction of the image diagonal
  bool any() const { return by_size || covering || boundary; }
};

struct EngineOptions {
  int workers = 0;  // 0: all cores
  std::uint64_t max_pixels = std::uint64_t{1} << 27;
  InflateBackend inflate = InflateBackend::kDefault;
  BreakdownOptions breakdown;
  bool semantic = false;  // also count pixels per (gt category, pred category) per image
};

// Per-category sums; IoUs are added image by image in dataset order, within an image in
// (gt id, pred id) order, as panopticapi's single process adds them.
struct CategoryTotals {
  std::vector<std::int64_t> tp, fp, fn;
  std::vector<double> iou;
  explicit CategoryTotals(std::size_t n = 0) : tp(n, 0), fp(n, 0), fn(n, 0), iou(n, 0.0) {}
  bool fits(std::size_t n) const { return tp.size() == n && fp.size() == n && fn.size() == n && iou.size() == n; }
  void add(const ImageMatches& image);
};

// The first image (in dataset order) that could not be evaluated, and why.
struct ImageFailure {
  enum Kind { kNone, kFile, kFileMissing, kSizeMismatch, kSegment };
  Kind kind = kNone;
  std::int64_t image_index = -1;
  SegmentError::Kind segment_kind = SegmentError::kPngIdNotInJson;
  std::int64_t segment_id = 0;
  std::vector<std::int64_t> segment_ids;
  std::string message;
};

// What one image adds to the breakdowns.
struct ImageBreakdown {
  ImageMatches by_size[kSizeBuckets];
  std::vector<CoveringSums> covering;
  ImageMatches boundary;
};

// Breakdown sums over a dataset, added in image order; only the requested ones are filled.
struct BreakdownTotals {
  std::vector<CategoryTotals> by_size;  // kSizeBuckets of them when by_size was requested
  CoveringTotals covering;
  CategoryTotals boundary;
  // Makes these sums the starting point of a pass: a requested part left empty starts at zero, one
  // not requested is dropped; throws UsageError when a given part does not have n_categories entries.
  void start(std::size_t n_categories, const BreakdownOptions& options);
  void add(const ImageBreakdown& image, const BreakdownOptions& options);
};

struct PanopticEvaluation {
  CategoryTotals totals;
  BreakdownTotals breakdown;
  std::vector<ImageMatches> images;  // per image, kept only when asked for
  std::vector<std::vector<CategoryPixels>> semantic;  // per image, when options.semantic
  ImageFailure failure;
};

// Scores every image pair and adds the statistics, in dataset order, to `initial` and the
// breakdowns to `initial_breakdown` (see BreakdownTotals::start). Passing one piece's sums to the
// next lets a dataset be scored in pieces with every sum bit-identical to a single pass.
PanopticEvaluation evaluate_panoptic(const PanopticDataset& dataset, const EngineOptions& options,
                                     bool keep_images, CategoryTotals initial,
                                     BreakdownTotals initial_breakdown = BreakdownTotals());
// The same for id maps in memory, with the same matching and the same order of additions.
PanopticEvaluation evaluate_panoptic(const IdMapBatch& batch, const SegmentTables& tables,
                                     const EngineOptions& options, bool keep_images, CategoryTotals initial,
                                     BreakdownTotals initial_breakdown = BreakdownTotals());

// One image pair of a dataset on disk, matched as evaluate_panoptic matches it, with what was
// decided for every segment (for pictures and per-segment tables; not on the scoring path).
struct ImagePairDecisions {
  ImageMatches matches;
  SegmentDecisions decisions;
  ImageFailure failure;
};
ImagePairDecisions match_image_pair(const PanopticDataset& dataset, std::size_t image, const EngineOptions& options);

}  // namespace fastpq
