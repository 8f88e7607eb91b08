// The semantic pass: random lookup tables and label maps (arrays of every type, or PNG bytes)
// through semantic_confusion. Findings besides sanitizer reports: counts that differ from a
// per-pixel oracle, a refused label reported at another pixel than the oracle's first, results
// that depend on the number of threads.
//
// Input (fuzz_input.hpp format): u8 n_rows-1 (mod 40), u8 n_cols-1 (mod 40), u8 table size (mod 64),
// u8 gt other code (bit 7 set: values -1 and table size + 1 are skipped outside the table), u8 pred
// other code, then table size gt codes and pred codes (u8 each, code =
// byte mod (n + 3) - 2: -2 refuse, -1 skip, else an index), u8 width (mod 33), u8 height (mod 33),
// u8 types (low nibble gt, high nibble pred: 0..7 an array type, 8+ PNG bytes), u8 instances (bit 0:
// with instances, bit 1: as PNG bytes), u16 instance_min; then each map: arrays as width*height
// little-endian values of their type, PNG maps as a u32 length and that many bytes; instances as a
// u16 array or PNG bytes. After them, for per_image_class_counts on the image's entries: u8 k (mod
// 8), then a u8 per row and per column (class = byte mod (k + 2): k + 1 is out of range and must be
// refused) and a u8 per row (bit 0: a counted row).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "semantic/class_counts.hpp"
#include "semantic/confusion.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

std::int32_t code_of(std::uint8_t byte, std::int32_t n) { return static_cast<std::int32_t>(byte % (n + 3)) - 2; }

const int kItem[8] = {1, 1, 2, 2, 4, 4, 8, 8};
const LabelSource::Type kTypes[8] = {LabelSource::kU8, LabelSource::kI8, LabelSource::kU16, LabelSource::kI16,
                                     LabelSource::kU32, LabelSource::kI32, LabelSource::kU64, LabelSource::kI64};

struct Map {
  std::string bytes;
  LabelSource source;
};

Map make_map(ByteReader& in, int kind, std::size_t w, std::size_t h, const char* name) {
  Map m;
  m.source.name = name;
  if (kind >= 8) {
    m.bytes = in.bytes(in.u32() % 4096);
    m.source.kind = LabelSource::kMemory;
  } else {
    m.bytes = in.bytes(w * h * kItem[kind]);
    m.bytes.resize(w * h * kItem[kind] + 8, '\0');
    m.source.kind = LabelSource::kArray;
    m.source.type = kTypes[kind];
    m.source.height = h;
    m.source.width = w;
  }
  return m;
}

void point(Map& m) {
  m.source.data = reinterpret_cast<const std::uint8_t*>(m.bytes.data());
  m.source.size = m.bytes.size();
}

// per_image_class_counts on the image's confusion entries against the dense matrix, or its refusal
// when a class is out of range.
void class_tables(ByteReader& in, const SemanticImage& image, const std::vector<std::uint64_t>& matrix,
                  const SemanticOptions& o) {
  const std::size_t k = in.u8() % 8;
  std::vector<std::int64_t> row_class(o.n_rows), col_class(o.n_cols);
  std::vector<std::uint8_t> counted(o.n_rows);
  bool in_range = true;
  for (auto& c : row_class) in_range &= (c = in.u8() % (k + 2)) <= static_cast<std::int64_t>(k);
  for (auto& c : col_class) in_range &= (c = in.u8() % (k + 2)) <= static_cast<std::int64_t>(k);
  for (auto& c : counted) c = in.u8() & 1;
  std::vector<std::int64_t> offsets{0, static_cast<std::int64_t>(image.confusion.size())}, rows, cols, counts;
  for (const SparseCount& e : image.confusion) {
    rows.push_back(e.row);
    cols.push_back(e.col);
    counts.push_back(static_cast<std::int64_t>(e.count));
  }
  ConfusionEntries entries{offsets.data(), 1, rows.data(), cols.data(), counts.data(), rows.size()};
  ClassMap map{row_class.data(), row_class.size(), col_class.data(), col_class.size(), counted.data(), k};
  std::vector<std::int64_t> tp(k), gt(k), pred(k), want_tp(k), want_gt(k), want_pred(k);
  try {
    per_image_class_counts(entries, map, tp.data(), gt.data(), pred.data());
  } catch (const UsageError&) {
    if (in_range) finding("class tables in range were refused");
    return;
  }
  if (!in_range) finding("a class out of range was accepted");
  for (std::size_t r = 0; r < row_class.size(); ++r)
    for (std::size_t c = 0; c < col_class.size(); ++c) {
      const auto n = static_cast<std::int64_t>(matrix[r * col_class.size() + c]);
      const auto rc = static_cast<std::size_t>(row_class[r]), cc = static_cast<std::size_t>(col_class[c]);
      if (rc < k) want_gt[rc] += n;
      if (rc < k && rc == cc) want_tp[rc] += n;
      if (cc < k && counted[r]) want_pred[cc] += n;
    }
  if (tp != want_tp || gt != want_gt || pred != want_pred) finding("the class tables differ from the dense oracle");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  SemanticOptions o;
  o.n_rows = in.u8() % 40 + 1;
  o.n_cols = in.u8() % 40 + 1;
  const std::size_t table = in.u8() % 64;
  LabelTable gt_t, pred_t;
  const std::uint8_t gt_other = in.u8();
  gt_t.other = code_of(gt_other, o.n_rows);
  if (gt_other & 0x80) gt_t.skipped = {-1, static_cast<std::int64_t>(table) + 1};
  pred_t.other = code_of(in.u8(), o.n_cols);
  for (std::size_t v = 0; v < table; ++v) gt_t.lut.push_back(code_of(in.u8(), o.n_rows));
  for (std::size_t v = 0; v < table; ++v) pred_t.lut.push_back(code_of(in.u8(), o.n_cols));
  const std::size_t w = in.u8() % 33, h = in.u8() % 33;
  const std::uint8_t types = in.u8();
  const std::uint8_t instances = in.u8();
  const bool with_instances = instances & 1;
  o.instance_min = in.u16();
  o.max_pixels = 1 << 16;
  Map g = make_map(in, types & 15, w, h, "gt"), p = make_map(in, types >> 4, w, h, "pred");
  Map inst = make_map(in, (instances & 2) ? 8 : 2, w, h, "inst");
  point(g);
  point(p);
  point(inst);
  std::vector<LabelSource> gts{g.source}, preds{p.source}, insts{inst.source};
  SemanticResult one, two;
  std::string error_one, error_two;
  try {
    o.workers = 1;
    one = semantic_confusion(gts, preds, with_instances ? &insts : nullptr, gt_t, pred_t, o);
  } catch (const FormatError& e) {
    error_one = e.what();
  } catch (const UsageError& e) {
    error_one = e.what();
  }
  try {
    o.workers = 2;
    two = semantic_confusion(gts, preds, with_instances ? &insts : nullptr, gt_t, pred_t, o);
  } catch (const FormatError& e) {
    error_two = e.what();
  } catch (const UsageError& e) {
    error_two = e.what();
  }
  if (error_one != error_two) finding("the outcome depends on the number of threads");
  if (!error_one.empty()) return 0;
  if (one.confusion != two.confusion) finding("the counts depend on the number of threads");
  // A per-pixel oracle on the decoded labels.
  std::vector<std::int64_t> a, b;
  std::uint32_t ha, wa, hb, wb;
  read_labels(g.source, o.max_pixels, InflateBackend::kZlib, a, ha, wa);
  read_labels(p.source, o.max_pixels, InflateBackend::kZlib, b, hb, wb);
  if (ha != hb || wa != wb) finding("maps of different sizes were accepted");
  std::vector<std::uint64_t> expected(std::size_t(o.n_rows) * o.n_cols, 0);
  for (std::size_t k = 0; k < a.size(); ++k) {
    const std::int32_t r = gt_t.code(a[k]), c = pred_t.code(b[k]);
    if (r == kRefuse || c == kRefuse) finding("a refused label was accepted");
    if (r >= 0 && c >= 0) ++expected[std::size_t(r) * o.n_cols + c];
  }
  if (expected != one.confusion) finding("the counts differ from the per-pixel oracle");
  class_tables(in, one.images[0], expected, o);
  if (with_instances) {  // instance pixels by (instance value, predicted column; n_cols when skipped)
    std::vector<std::int64_t> v;
    std::uint32_t hi, wi;
    read_labels(inst.source, o.max_pixels, InflateBackend::kZlib, v, hi, wi);
    std::map<std::pair<std::int64_t, std::int32_t>, std::uint64_t> counts;
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (v[k] < o.instance_min) continue;
      const std::int32_t c = pred_t.code(b[k]);
      ++counts[{v[k], c >= 0 ? c : o.n_cols}];
    }
    const std::vector<SparseCount>& got = one.images[0].instances;
    bool same = got.size() == counts.size();
    std::size_t k = 0;
    for (auto it = counts.begin(); same && it != counts.end(); ++it, ++k)
      same = got[k].row == it->first.first && got[k].col == it->first.second && got[k].count == it->second;
    if (!same) finding("the instance counts differ from the per-pixel oracle");
  }
  return 0;
}
