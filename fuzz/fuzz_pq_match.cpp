// Panoptic matching through the in-memory engine path (evaluate_panoptic on an IdMapBatch: id
// maps of every element type, joint histogram, match_segments with panopticapi's rules, totals)
// with fuzzed id maps and segment tables: unknown ids, ids outside [0, 2^24), negative and
// out-of-range categories, crowd segments, JSON areas that contradict the maps (NaN included),
// offsets that do not fit. Findings besides sanitizer reports: an exception other than UsageError
// escaping, and results that break the matching's invariants.
//
// Input (fuzz_input.hpp): u8 images (% 3), u8 height (% 17), u8 width (% 17), u8 gt and pred
// element types (% 6), u8 categories (>= 0x80: -1, else % 5); 8 palette ids (u8 tag: % 4 == 0: a
// u64, else u8 % 8); per image the gt map then the pred map, one u8 per pixel (a palette index);
// per image u8 gt segments (% 6), each: u8 id tag, u8 category, u8 crowd, u8 area tag; then u8
// pred segments (% 6), each: u8 id tag, u8 category; then a u8 that, when 0xff, breaks the
// offsets; finally a u8 of breakdowns (bit 0 by size, 1 covering, 2 boundary; bits 3-5 pick the
// boundary band's dilation ratio). With breakdowns, more invariants: the size buckets add up to the
// totals; boundary PQ matches a subset (TP + FN equal to the totals', FP between the totals' and
// those plus the lost TP) when the tables fit the maps; covering's weighted IoU is finite and at
// most the GT area.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "panoptic/pq_engine.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

constexpr std::size_t kPalette = 8;

std::size_t element_size(IdType t) {
  switch (t) {
    case IdType::kU8: return 1;
    case IdType::kU16: return 2;
    case IdType::kU32: case IdType::kI32: return 4;
    default: return 8;
  }
}

// Stores id `v` as element `i` of a map of type `t` (truncated to the type, as numpy's astype).
void store(std::vector<std::uint8_t>& bytes, IdType t, std::size_t i, std::int64_t v) {
  const std::size_t s = element_size(t);
  std::memcpy(bytes.data() + i * s, &v, s);  // little-endian: the low bytes are the truncated value
}

std::int64_t segment_id(ByteReader& in, const std::int64_t* palette) {
  const std::uint8_t tag = in.u8();
  return tag < 0xf0 ? palette[tag % kPalette] : static_cast<std::int64_t>(tag) - 0xf8;  // -8..7 otherwise
}

std::int32_t category(ByteReader& in, std::int32_t n_categories) {
  const std::uint8_t c = in.u8();
  if (n_categories < 0) return static_cast<std::int32_t>(c % 3) - 1;
  if (c >= 0xfc) return static_cast<std::int32_t>(c) - 0xfe + n_categories;  // just outside the range
  return static_cast<std::int32_t>(c % (n_categories + 1)) - 1;              // -1 (unknown) .. n - 1
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::size_t count = in.u8() % 3, height = in.u8() % 17, width = in.u8() % 17;
  const IdType gt_type = static_cast<IdType>(in.u8() % 6), pred_type = static_cast<IdType>(in.u8() % 6);
  const std::uint8_t c = in.u8();
  const std::int32_t n_categories = c >= 0x80 ? -1 : c % 5;
  std::int64_t palette[kPalette];
  for (std::int64_t& id : palette) {
    const std::uint8_t tag = in.u8();
    id = tag % 4 == 0 ? static_cast<std::int64_t>(in.u64()) : tag % 8;
  }

  const std::size_t pixels = height * width;
  std::vector<std::uint8_t> gt_maps(count * pixels * element_size(gt_type));
  std::vector<std::uint8_t> pred_maps(count * pixels * element_size(pred_type));
  std::vector<std::vector<std::int64_t>> gt_pixels(count);  // the ids as stored, for realistic areas
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t p = 0; p < pixels; ++p) {
      const std::int64_t id = palette[in.u8() % kPalette];
      store(gt_maps, gt_type, i * pixels + p, id);
      std::int64_t stored = 0;
      std::memcpy(&stored, gt_maps.data() + (i * pixels + p) * element_size(gt_type), element_size(gt_type));
      gt_pixels[i].push_back(stored);
    }
    for (std::size_t p = 0; p < pixels; ++p) store(pred_maps, pred_type, i * pixels + p, palette[in.u8() % kPalette]);
  }

  SegmentTables t;
  t.n_categories = n_categories;
  // With JSON areas that contradict the maps, IoUs can pass 1 and one GT segment can match two
  // predictions (as in panopticapi); the boundary invariants below need tables that fit the maps.
  bool consistent_areas = true;
  t.gt_offsets.push_back(0);
  t.pred_offsets.push_back(0);
  for (std::size_t i = 0; i < count; ++i) {
    for (int g = in.u8() % 6; g > 0; --g) {
      const std::int64_t id = segment_id(in, palette);
      t.gt_ids.push_back(id);
      t.gt_categories.push_back(category(in, n_categories));
      t.gt_iscrowd.push_back(in.u8() & 1);
      const std::uint8_t area_tag = in.u8();
      double area = 0;
      if (area_tag % 4 == 0) {
        area = in.f64();
        consistent_areas = false;
      } else {
        for (std::int64_t v : gt_pixels[i]) area += v == id;
      }
      t.gt_areas.push_back(area);
    }
    t.gt_offsets.push_back(static_cast<std::int64_t>(t.gt_ids.size()));
    for (int p = in.u8() % 6; p > 0; --p) {
      t.pred_ids.push_back(segment_id(in, palette));
      t.pred_categories.push_back(category(in, n_categories));
    }
    t.pred_offsets.push_back(static_cast<std::int64_t>(t.pred_ids.size()));
  }
  if (in.u8() == 0xff && count > 0) t.gt_offsets[1] += 1;

  IdMapBatch batch;
  batch.gt = {gt_maps.data(), gt_type};
  batch.pred = {pred_maps.data(), pred_type};
  batch.gt_item_bytes = pixels * element_size(gt_type);
  batch.pred_item_bytes = pixels * element_size(pred_type);
  batch.count = count;
  batch.height = height;
  batch.width = width;
  EngineOptions options;
  options.workers = 1;
  const std::uint8_t wanted = in.u8();
  static const double kRatios[8] = {0.0, 0.02, 0.05, 0.1, 0.5, 1.0, 3.0, 1e9};
  options.breakdown.by_size = wanted & 1;
  options.breakdown.covering = wanted & 2;
  options.breakdown.boundary = wanted & 4;
  options.breakdown.boundary_dilation_ratio = kRatios[(wanted >> 3) & 7];

  PanopticEvaluation r;
  try {
    // As the bindings do: one total per category (none for a negative count, which validation refuses).
    r = evaluate_panoptic(batch, t, options, true, CategoryTotals(n_categories > 0 ? n_categories : 0));
  } catch (const UsageError&) {
    return 0;
  }
  if (r.failure.kind != ImageFailure::kNone) {
    if (r.failure.image_index < 0 || static_cast<std::size_t>(r.failure.image_index) >= count || r.failure.message.empty())
      finding("a failure that names no image or gives no reason");
    return 0;
  }
  std::int64_t matches = 0, tp = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const ImageMatches& m = r.images[i];
    const std::size_t n_gt = static_cast<std::size_t>(t.gt_offsets[i + 1] - t.gt_offsets[i]);
    const std::size_t n_pred = static_cast<std::size_t>(t.pred_offsets[i + 1] - t.pred_offsets[i]);
    if (m.false_negatives.size() > n_gt || m.false_positives.size() > n_pred) finding("more errors than segments");
    for (const auto& [cat, iou] : m.matches)
      if (cat < 0 || cat >= n_categories || !(iou > 0.5) || !std::isfinite(iou)) finding("a match out of range");
    for (std::int32_t cat : m.false_positives)
      if (cat < 0 || cat >= n_categories) finding("a false positive without a category");
    matches += static_cast<std::int64_t>(m.matches.size());
  }
  for (std::int64_t v : r.totals.tp) tp += v;
  if (tp != matches) finding("totals do not add up the matches");

  const std::size_t k = r.totals.tp.size();
  const BreakdownTotals& b = r.breakdown;
  if (options.breakdown.by_size) {
    for (std::size_t c = 0; c < k; ++c) {
      std::int64_t btp = 0, bfp = 0, bfn = 0;
      for (const CategoryTotals& bucket : b.by_size) btp += bucket.tp[c], bfp += bucket.fp[c], bfn += bucket.fn[c];
      if (btp != r.totals.tp[c] || bfp != r.totals.fp[c] || bfn != r.totals.fn[c])
        finding("the size buckets do not add up to the totals");
    }
  }
  // Nor can a table list an id twice (the Python layer never builds one): a crowd twin of a matched
  // segment would excuse a prediction in one matching and not the other.
  for (std::size_t i = 0; i < count && consistent_areas; ++i) {
    std::vector<std::int64_t> gt_ids(t.gt_ids.begin() + t.gt_offsets[i], t.gt_ids.begin() + t.gt_offsets[i + 1]);
    std::vector<std::int64_t> pred_ids(t.pred_ids.begin() + t.pred_offsets[i],
                                       t.pred_ids.begin() + t.pred_offsets[i + 1]);
    for (auto* ids : {&gt_ids, &pred_ids}) {
      std::sort(ids->begin(), ids->end());
      if (std::adjacent_find(ids->begin(), ids->end()) != ids->end()) consistent_areas = false;
    }
  }
  if (options.breakdown.boundary && consistent_areas) {
    for (std::size_t c = 0; c < k; ++c) {
      const CategoryTotals& bt = b.boundary;
      // A prediction matched by mask IoU alone is, unmatched, either a false positive or excused
      // (mostly void or crowd), so boundary FP lie between the mask FP and those plus the lost TP.
      const std::int64_t lost = r.totals.tp[c] - bt.tp[c];
      if (lost < 0 || bt.tp[c] + bt.fn[c] != r.totals.tp[c] + r.totals.fn[c] || bt.fp[c] < r.totals.fp[c] ||
          bt.fp[c] > r.totals.fp[c] + lost || !(bt.iou[c] <= r.totals.iou[c] + 1e-9))
        finding("boundary PQ is not a stricter matching of the same segments");
    }
  }
  if (options.breakdown.covering) {
    const CoveringTotals& cv = b.covering;
    for (std::size_t c = 0; c < cv.gt_area.size(); ++c)
      if (!std::isfinite(cv.weighted_iou[c]) || cv.weighted_iou[c] < 0 || cv.weighted_iou[c] > cv.gt_area[c] + 1e-9 ||
          !std::isfinite(cv.weighted_iou_normalized[c]) ||
          cv.weighted_iou_normalized[c] > cv.gt_area_normalized[c] + 1e-12)
        finding("covering's weighted IoU is not within the GT area");
  }
  return 0;
}
