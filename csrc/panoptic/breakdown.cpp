#include "panoptic/breakdown.hpp"

#include <algorithm>

namespace fastpq {
namespace {

// Calls f(gt index or -1, first entry, end entry) for each run of entries with one gt id.
template <typename F>
void for_each_gt(const std::vector<HistEntry>& entries, const MatchScratch& scratch, F f) {
  for (std::size_t i = 0; i < entries.size();) {
    std::size_t j = i;
    while (j < entries.size() && entries[j].gt == entries[i].gt) ++j;
    f(find_segment(scratch.gt_index, entries[i].gt), i, j);
    i = j;
  }
}

}  // namespace

void split_by_size(const ImageMatches& matches, const MatchScratch& scratch, ImageMatches (&out)[kSizeBuckets]) {
  for (ImageMatches& bucket : out) bucket.clear();
  const std::vector<std::uint64_t>& gt_pixels = scratch.gt_pixels;
  for (std::size_t k = 0; k < matches.matches.size(); ++k)
    out[size_bucket(gt_pixels[matches.match_gt[k]])].matches.push_back(matches.matches[k]);
  for (std::size_t k = 0; k < matches.false_negatives.size(); ++k)
    out[size_bucket(gt_pixels[matches.false_negative_gt[k]])].false_negatives.push_back(matches.false_negatives[k]);
  for (std::size_t k = 0; k < matches.false_positives.size(); ++k)
    out[size_bucket(scratch.pred_area[matches.false_positive_pred[k]])].false_positives.push_back(
        matches.false_positives[k]);
}

void parsing_covering(const std::vector<HistEntry>& entries, const GtSegments& gt, const PredSegments& pred,
                      const MatchScratch& scratch, std::vector<CoveringSums>& out,
                      std::vector<std::uint64_t>& pred_pixels, std::vector<double>& best_iou) {
  out.clear();
  auto scored = [&](std::ptrdiff_t g) { return g >= 0 && !gt.iscrowd[g] && gt.category[g] >= 0; };
  const std::vector<std::uint64_t>& gt_pixels = scratch.gt_pixels;
  // Predicted areas leave out the pixels of ignored GT, as ParsingCovering never counts them.
  pred_pixels.assign(pred.size, 0);
  std::uint64_t image_pixels = 0;
  for_each_gt(entries, scratch, [&](std::ptrdiff_t g, std::size_t i, std::size_t j) {
    for (; i < j; ++i) {
      image_pixels += entries[i].count;
      if (!scored(g)) continue;
      std::ptrdiff_t p = find_segment(scratch.pred_index, entries[i].pred);
      if (p >= 0) pred_pixels[p] += entries[i].count;
    }
  });
  best_iou.assign(gt.size, 0.0);
  for_each_gt(entries, scratch, [&](std::ptrdiff_t g, std::size_t i, std::size_t j) {
    if (!scored(g)) return;
    for (; i < j; ++i) {
      std::ptrdiff_t p = find_segment(scratch.pred_index, entries[i].pred);
      if (p < 0 || pred.category[p] != gt.category[g]) continue;
      const double intersection = static_cast<double>(entries[i].count);
      const double iou =
          intersection / ((static_cast<double>(gt_pixels[g]) + static_cast<double>(pred_pixels[p])) - intersection);
      best_iou[g] = std::max(best_iou[g], iou);
    }
  });
  const double size = static_cast<double>(image_pixels);
  for (std::size_t g = 0; g < gt.size; ++g) {
    if (!scored(static_cast<std::ptrdiff_t>(g)) || gt_pixels[g] == 0) continue;
    const double area = static_cast<double>(gt_pixels[g]);
    const double normalized = area / size;
    out.push_back({gt.category[g], best_iou[g] * area, area, best_iou[g] * normalized, normalized});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const CoveringSums& a, const CoveringSums& b) { return a.category < b.category; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (kept > 0 && out[kept - 1].category == out[i].category) {
      CoveringSums& s = out[kept - 1];
      s.weighted_iou += out[i].weighted_iou;
      s.gt_area += out[i].gt_area;
      s.weighted_iou_normalized += out[i].weighted_iou_normalized;
      s.gt_area_normalized += out[i].gt_area_normalized;
    } else {
      out[kept++] = out[i];
    }
  }
  out.resize(kept);
}

void CoveringTotals::add(const std::vector<CoveringSums>& image) {
  for (const CoveringSums& s : image) {
    weighted_iou[s.category] += s.weighted_iou;
    gt_area[s.category] += s.gt_area;
    weighted_iou_normalized[s.category] += s.weighted_iou_normalized;
    gt_area_normalized[s.category] += s.gt_area_normalized;
  }
}

}  // namespace fastpq
