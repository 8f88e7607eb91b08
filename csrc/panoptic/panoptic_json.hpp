// COCO panoptic JSON files read straight into segment tables, for the plainest files only: ASCII text
// without escapes, integer image ids or strings, integer segment ids and categories, integer or float
// areas, every key of interest once, every ground-truth image predicted, no segment id listed twice.
// On anything else the reader gives up (returns false) and the caller parses the files in Python,
// which names what is wrong. Whatever is accepted is valid JSON (RFC 8259) that Python's parsers
// read to the same values, and the tables are those of fastpq.io.dataset.build_tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastpq {

// Bytes [begin, end) of the text.
struct JsonSpan {
  std::size_t begin = 0, end = 0;
};

struct JsonImageId {
  bool is_string = false;
  std::int64_t value = 0;  // when not a string
  JsonSpan text;           // the string's characters
};

struct JsonSegment {
  std::int64_t id = 0, category_id = 0, iscrowd = 0;  // iscrowd and area: ground truth only
  double area = 0;
};

struct JsonAnnotation {
  JsonImageId image_id;
  JsonSpan file_name;  // the string's characters
  JsonSpan object;     // the whole annotation object
  std::size_t first_segment = 0, segments = 0;
};

struct PanopticJson {
  std::vector<JsonAnnotation> annotations;
  std::vector<JsonSegment> segments;
  std::vector<std::int64_t> category_ids;  // in file order (ground truth)
  JsonSpan categories;                     // the categories array (ground truth)
};

// Parses a ground-truth file (annotations and categories) or a prediction file (annotations).
bool parse_panoptic_json(const char* text, std::size_t size, bool ground_truth, PanopticJson& out);

// The tables of build_tables: one image per ground-truth annotation, paired with the last prediction
// of its image id; categories as indexes into the ground truth's (first occurrence), -1 if absent.
struct PanopticJsonTables {
  std::vector<std::size_t> gt_annotation, pred_annotation;  // per image
  std::vector<std::int64_t> gt_offsets{0}, gt_ids, gt_categories, pred_offsets{0}, pred_ids, pred_categories;
  std::vector<std::uint8_t> gt_iscrowd;
  std::vector<double> gt_areas;
};

// Pairs parsed files; false (giving up) when an image has no prediction, more than `max_segments`
// segments on either side, or a segment id listed twice.
bool pair_panoptic_json(const PanopticJson& gt, const char* gt_text, const PanopticJson& pred, const char* pred_text,
                        std::size_t max_segments, PanopticJsonTables& out);

}  // namespace fastpq
