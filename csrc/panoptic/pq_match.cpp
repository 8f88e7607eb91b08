#include "panoptic/pq_match.hpp"

#include <algorithm>
#include <map>

namespace fastpq {
namespace {

constexpr std::uint32_t kVoid = 0;

std::uint64_t pixels_of(const std::vector<HistEntry>& entries, std::int64_t gt, std::uint32_t pred) {
  if (gt < 0 || gt > 0xFFFFFF) return 0;
  auto it = std::lower_bound(entries.begin(), entries.end(), std::make_pair(static_cast<std::uint32_t>(gt), pred),
                             [](const HistEntry& e, const std::pair<std::uint32_t, std::uint32_t>& k) {
                               return e.gt != k.first ? e.gt < k.first : e.pred < k.second;
                             });
  if (it == entries.end() || it->gt != gt || it->pred != pred) return 0;
  return it->count;
}

// Boundary IoU of a pair with the Boundary IoU API's operands: its union leaves out the part of
// the prediction's band that lies on GT void, as panopticapi's mask IoU does.
double boundary_iou(const BoundaryCounts& b, std::uint32_t gt, std::uint32_t pred) {
  const auto intersection = static_cast<std::int64_t>(pixels_of(b.pairs, gt, pred));
  const auto on_void = static_cast<std::int64_t>(pixels_of(b.pairs, kVoid, pred));
  const auto gt_band = static_cast<std::int64_t>(pixels_of(b.gt_band, gt, 0));
  const auto pred_band = static_cast<std::int64_t>(pixels_of(b.pred_band, 0, pred));
  const std::int64_t uni = pred_band + gt_band - intersection - on_void;
  return uni > 0 ? static_cast<double>(intersection) / static_cast<double>(uni) : 0.0;
}

}  // namespace

void match_segments(const std::vector<HistEntry>& entries, const GtSegments& gt, const PredSegments& pred,
                    std::int32_t n_categories, ImageMatches& out, MatchScratch& s, const BoundaryCounts* boundary,
                    SegmentDecisions* decisions) {
  out.clear();
  build_segment_index(gt.id, gt.size, s.gt_index);
  build_segment_index(pred.id, pred.size, s.pred_index);

  // Prediction areas come from the PNG; every non-void PNG id must be a known JSON segment.
  s.pred_pixels.clear();
  for (const HistEntry& e : entries) s.pred_pixels.push_back({e.pred, e.count});
  std::sort(s.pred_pixels.begin(), s.pred_pixels.end());
  s.pred_area.assign(pred.size, 0);
  s.pred_void.assign(pred.size, 0);
  s.pred_present.assign(pred.size, 0);
  for (std::size_t i = 0; i < s.pred_pixels.size();) {
    std::uint32_t label = s.pred_pixels[i].first;
    std::uint64_t area = 0;
    for (; i < s.pred_pixels.size() && s.pred_pixels[i].first == label; ++i) area += s.pred_pixels[i].second;
    std::ptrdiff_t p = find_segment(s.pred_index, label);
    if (p < 0) {
      if (label == kVoid) continue;
      throw SegmentError(SegmentError::kPngIdNotInJson, label, {}, "PNG id not in JSON");
    }
    s.pred_area[p] = area;
    s.pred_present[p] = 1;
    if (pred.category[p] < 0)
      throw SegmentError(SegmentError::kUnknownCategory, label, {}, "unknown category_id");
  }
  std::vector<std::int64_t> missing;
  for (std::size_t p = 0; p < pred.size; ++p)
    if (!s.pred_present[p]) missing.push_back(pred.id[p]);
  if (!missing.empty()) {
    const std::int64_t first = missing.front();  // read before `missing` is moved into the error
    throw SegmentError(SegmentError::kJsonIdsNotInPng, first, std::move(missing), "JSON ids not in PNG");
  }

  for (const HistEntry& e : entries) {
    if (e.gt != kVoid) break;
    std::ptrdiff_t p = find_segment(s.pred_index, e.pred);
    if (p >= 0) s.pred_void[p] = e.count;
  }

  s.gt_matched.assign(gt.size, 0);
  s.pred_matched.assign(pred.size, 0);
  if (decisions) {
    decisions->gt_status.assign(gt.size, SegmentStatus::kUnmatched);
    decisions->pred_status.assign(pred.size, SegmentStatus::kUnmatched);
    decisions->gt_match.assign(gt.size, -1);
    decisions->pred_match.assign(pred.size, -1);
    decisions->gt_iou.assign(gt.size, 0.0);
    decisions->pred_iou.assign(pred.size, 0.0);
  }
  s.gt_pixels.assign(gt.size, 0);
  for (const HistEntry& e : entries) {
    std::ptrdiff_t g = find_segment(s.gt_index, e.gt);
    if (g < 0) continue;
    s.gt_pixels[g] += e.count;
    std::ptrdiff_t p = find_segment(s.pred_index, e.pred);
    if (p < 0) continue;
    if (gt.iscrowd[g]) continue;
    if (gt.category[g] != pred.category[p]) continue;
    // The same operations, in the same order, as panopticapi's numpy expression.
    double uni = ((static_cast<double>(s.pred_area[p]) + gt.area[g]) - static_cast<double>(e.count)) -
                 static_cast<double>(s.pred_void[p]);
    if (!(uni > 0))
      throw SegmentError(SegmentError::kBadArea, gt.id[g], {},
                         "ground-truth area in the JSON is inconsistent with the PNG (IoU union zero, negative or NaN)");
    double iou = static_cast<double>(e.count) / uni;
    if (boundary) iou = std::min(iou, boundary_iou(*boundary, e.gt, e.pred));
    if (iou > 0.5) {
      out.matches.push_back({gt.category[g], iou});
      out.match_gt.push_back(static_cast<std::uint32_t>(g));
      s.gt_matched[g] = 1;
      s.pred_matched[p] = 1;
      if (decisions) {
        decisions->gt_status[g] = decisions->pred_status[p] = SegmentStatus::kMatched;
        decisions->gt_match[g] = p;
        decisions->pred_match[p] = g;
        decisions->gt_iou[g] = decisions->pred_iou[p] = iou;
      }
    }
  }

  // The last unmatched crowd segment of each category (in JSON order) excuses predictions.
  s.crowd_of_category.assign(static_cast<std::size_t>(n_categories), -1);
  for (std::size_t g = 0; g < gt.size; ++g) {
    if (s.gt_matched[g]) continue;
    if (gt.iscrowd[g]) {
      if (gt.category[g] >= 0) s.crowd_of_category[gt.category[g]] = static_cast<std::int64_t>(g);
      if (decisions) decisions->gt_status[g] = SegmentStatus::kIgnored;
      continue;
    }
    out.false_negatives.push_back(gt.category[g]);
    out.false_negative_gt.push_back(static_cast<std::uint32_t>(g));
  }
  for (std::size_t p = 0; p < pred.size; ++p) {
    if (s.pred_matched[p]) continue;
    std::uint32_t label = static_cast<std::uint32_t>(pred.id[p]);  // present in the PNG, so 24-bit
    std::uint64_t ignored = s.pred_void[p];
    std::int64_t crowd = s.crowd_of_category[pred.category[p]];
    if (crowd >= 0) ignored += pixels_of(entries, gt.id[crowd], label);
    if (static_cast<double>(ignored) / static_cast<double>(s.pred_area[p]) > 0.5) {
      if (decisions) decisions->pred_status[p] = SegmentStatus::kIgnored;
      continue;
    }
    out.false_positives.push_back(pred.category[p]);
    out.false_positive_pred.push_back(static_cast<std::uint32_t>(p));
  }
}

ImageRows image_rows(const std::vector<ImageMatches>& images) {
  ImageRows r;
  for (std::size_t i = 0; i < images.size(); ++i) {
    std::map<std::int32_t, std::size_t> row_of;
    auto row = [&](std::int32_t c) {
      auto it = row_of.find(c);
      if (it != row_of.end()) return it->second;
      r.image.push_back(static_cast<std::int64_t>(i));
      r.category.push_back(c);
      r.tp.push_back(0), r.fp.push_back(0), r.fn.push_back(0), r.iou.push_back(0.0);
      return row_of[c] = r.image.size() - 1;
    };
    for (const auto& m : images[i].matches) {
      std::size_t k = row(m.first);
      r.tp[k] += 1;
      r.iou[k] += m.second;
    }
    for (std::int32_t c : images[i].false_negatives)
      if (c >= 0) r.fn[row(c)] += 1;
    for (std::int32_t c : images[i].false_positives) r.fp[row(c)] += 1;
  }
  return r;
}

}  // namespace fastpq
