// The C++ reader of COCO panoptic JSON (panoptic/panoptic_json): any two texts as a ground truth and
// a prediction. Findings besides sanitizer reports: spans outside their text, or not on the
// characters they name (an annotation object from '{' to '}', a string's characters between
// quotes); segment and annotation counts that do not add up; tables whose columns or offsets do
// not agree. (That the texts it takes are read alike by Python's parsers is tests/io/test_panoptic_json.py's.)
//
// Input: u16 length of the ground-truth text, that text, then the prediction text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "panoptic/panoptic_json.hpp"

namespace {

using namespace fastpq;
using fastpq_fuzz::finding;

void check_string(const std::string& text, JsonSpan s) {
  if (s.begin < 1 || s.end < s.begin || s.end >= text.size() || text[s.begin - 1] != '"' || text[s.end] != '"')
    finding("a string span not between quotes");
}

void check(const std::string& text, const PanopticJson& j, bool ground_truth) {
  std::size_t segments = 0;
  for (const JsonAnnotation& a : j.annotations) {
    if (a.object.end <= a.object.begin || a.object.end > text.size() || text[a.object.begin] != '{' ||
        text[a.object.end - 1] != '}')
      finding("an annotation span that is not an object");
    check_string(text, a.file_name);
    if (a.image_id.is_string) check_string(text, a.image_id.text);
    if (a.first_segment != segments) finding("annotations' segments out of order");
    segments += a.segments;
  }
  if (segments != j.segments.size()) finding("segment counts do not add up");
  if (ground_truth && (j.categories.end <= j.categories.begin || j.categories.end > text.size() ||
                       text[j.categories.begin] != '[' || text[j.categories.end - 1] != ']'))
    finding("a categories span that is not an array");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fastpq_fuzz::ByteReader in(data, size);
  const std::string gt_text = in.bytes(in.u16());
  const std::string pred_text = in.bytes(size);
  PanopticJson gt, pred;
  const bool gt_ok = parse_panoptic_json(gt_text.data(), gt_text.size(), true, gt);
  const bool pred_ok = parse_panoptic_json(pred_text.data(), pred_text.size(), false, pred);
  if (gt_ok) check(gt_text, gt, true);
  if (pred_ok) check(pred_text, pred, false);
  if (!gt_ok || !pred_ok) return 0;
  for (std::size_t max_segments : {std::size_t{1}, std::size_t{1} << 16}) {
    PanopticJsonTables t;
    if (!pair_panoptic_json(gt, gt_text.data(), pred, pred_text.data(), max_segments, t)) continue;
    const std::size_t n = t.gt_annotation.size();
    if (n != gt.annotations.size() || t.pred_annotation.size() != n || t.gt_offsets.size() != n + 1 ||
        t.pred_offsets.size() != n + 1)
      finding("tables of the wrong number of images");
    if (t.gt_ids.size() != t.gt_categories.size() || t.gt_ids.size() != t.gt_iscrowd.size() ||
        t.gt_ids.size() != t.gt_areas.size() || t.pred_ids.size() != t.pred_categories.size() ||
        static_cast<std::size_t>(t.gt_offsets.back()) != t.gt_ids.size() ||
        static_cast<std::size_t>(t.pred_offsets.back()) != t.pred_ids.size())
      finding("table columns that do not agree");
    for (std::size_t i = 0; i < n; ++i) {
      if (t.gt_offsets[i + 1] < t.gt_offsets[i] || t.pred_offsets[i + 1] < t.pred_offsets[i])
        finding("offsets that decrease");
      if (t.pred_annotation[i] >= pred.annotations.size()) finding("a prediction out of range");
    }
    for (std::int64_t c : t.gt_categories)
      if (c < -1 || c >= static_cast<std::int64_t>(gt.category_ids.size())) finding("a category index out of range");
    for (std::int64_t c : t.pred_categories)
      if (c < -1 || c >= static_cast<std::int64_t>(gt.category_ids.size())) finding("a category index out of range");
  }
  return 0;
}
