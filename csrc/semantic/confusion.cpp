#include "semantic/confusion.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <new>

#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "semantic/counters.hpp"
#include "semantic/label_rows.hpp"

namespace fastpq {
namespace {

using namespace semantic_detail;

Workspace& thread_workspace(InflateBackend backend) {
  thread_local std::unique_ptr<Workspace> ws;
  if (!ws || ws->backend != backend) ws = std::make_unique<Workspace>(backend);
  return *ws;
}

[[noreturn]] void refuse(const LabelSource& s, std::int64_t value, std::uint32_t x, std::uint32_t y) {
  throw FormatError("'" + s.name + "': label " + std::to_string(value) + " at pixel (x=" + std::to_string(x) +
                    ", y=" + std::to_string(y) + ") is not an evaluated label (neither a class nor ignored)");
}

// Both maps of 8-bit labels (and instance maps of at most 16 bits): raw byte pairs counted, the
// tables applied once per image. Returns false when a refused label occurs.
bool count_bytes(Workspace& ws, const LabelTable& gt_t, const LabelTable& pred_t, bool with_instances,
                 const SemanticOptions& o, Counter& counter, std::vector<SparseCount>& instances) {
  BytePairCounter pairs(ws);
  InstanceCounter inst(ws, o.instance_min);
  const std::uint32_t w = ws.pred.width(), h = ws.pred.height();
  for (std::uint32_t y = 0; y < h && w > 0; ++y) {
    const std::uint8_t* b = ws.pred.next_bytes();
    if (ws.gt_runs.active) pairs.row_runs(ws.gt_runs, b);
    else pairs.row(ws.gt.next_bytes(), b, w);
    if (!with_instances) continue;
    if (ws.inst_runs.active) inst.row_runs(ws.inst_runs, b);
    else inst.row(ws.inst.next_u16(), b, w);
  }
  if (!pairs.finish(gt_t, pred_t, counter)) return false;
  instances.clear();
  if (with_instances) inst.finish(pred_t, o.n_cols, instances);
  return true;
}

// Any label types: int64 rows, run by run, tables applied per run. Throws at the first refused label.
void count_values(Workspace& ws, const LabelTable& gt_t, const LabelTable& pred_t, bool with_instances,
                  const SemanticOptions& o, Counter& counter) {
  const std::uint32_t w = ws.gt.width(), h = ws.gt.height();
  ws.g.resize(w);
  ws.p.resize(w);
  if (with_instances) ws.i.resize(w);
  ws.instances.clear();
  const std::uint64_t cols = std::uint64_t(o.n_cols) + 1;
  for (std::uint32_t y = 0; y < h; ++y) {
    ws.gt.next_values(ws.g.data());
    ws.pred.next_values(ws.p.data());
    const std::int64_t* g = ws.g.data();
    const std::int64_t* p = ws.p.data();
    std::uint32_t start = 0;
    for (std::uint32_t x = 1; x <= w; ++x) {
      if (x < w && g[x] == g[start] && p[x] == p[start]) continue;
      const std::int32_t r = gt_t.code(g[start]);
      if (r == kRefuse) refuse(ws.gt.source(), g[start], start, y);
      const std::int32_t c = pred_t.code(p[start]);
      if (c == kRefuse) refuse(ws.pred.source(), p[start], start, y);
      if (r >= 0 && c >= 0) counter.add(r, c, x - start);
      start = x;
    }
    if (!with_instances) continue;
    ws.inst.next_values(ws.i.data());
    const std::int64_t* v = ws.i.data();
    start = 0;
    for (std::uint32_t x = 1; x <= w; ++x) {
      if (x < w && v[x] == v[start] && p[x] == p[start]) continue;
      if (v[start] >= o.instance_min) {
        if (v[start] >= (std::int64_t{1} << 40))
          throw FormatError("'" + ws.inst.source().name + "': instance value " + std::to_string(v[start]) +
                            " at pixel (x=" + std::to_string(start) + ", y=" + std::to_string(y) + ") is too large");
        const std::int32_t c = pred_t.code(p[start]);
        const std::uint64_t col = c >= 0 ? std::uint64_t(c) : std::uint64_t(o.n_cols);
        ws.instances[std::uint64_t(v[start]) * cols + col] += x - start;
      }
      start = x;
    }
  }
}

// The instance counts count_values gathered, sorted by (instance value, column).
void fill_instances(Workspace& ws, const SemanticOptions& o, std::vector<SparseCount>& out) {
  const std::uint64_t cols = std::uint64_t(o.n_cols) + 1;
  for (const auto& kv : ws.instances)
    out.push_back({std::int64_t(kv.first / cols), std::int32_t(kv.first % cols), kv.second});
  std::sort(out.begin(), out.end(), [](const SparseCount& a, const SparseCount& b) {
    return a.row != b.row ? a.row < b.row : a.col < b.col;
  });
}

void count_image(const LabelSource& gt, const LabelSource& pred, const LabelSource* inst, const LabelTable& gt_t,
                 const LabelTable& pred_t, const SemanticOptions& o, Workspace& ws, SemanticImage& out) {
  // 8-bit grey ground truth beside 8-bit predictions (and 8/16-bit grey instance maps) is read as
  // runs; everything else, and everything when a refused label is to be found, row by row.
  if (!ws.gt_runs.open(gt, o.max_pixels, false)) ws.gt.open(gt, o.max_pixels);
  ws.pred.open(pred, o.max_pixels);
  const MapSize gt_size = ws.gt_runs.active ? size_of(ws.gt_runs, gt) : size_of(ws.gt);
  check_same_size(gt_size, "ground truth", size_of(ws.pred), "prediction");
  // (a ground truth read as runs is 8-bit grey: byte labels)
  const bool bytes = ws.pred.byte_labels() && (ws.gt_runs.active || ws.gt.byte_labels());
  if (inst && !(bytes && ws.inst_runs.open(*inst, o.max_pixels, true))) ws.inst.open(*inst, o.max_pixels);
  if (inst)
    check_same_size(gt_size, "ground truth", ws.inst_runs.active ? size_of(ws.inst_runs, *inst) : size_of(ws.inst),
                    "instance map");
  out.height = gt_size.height;
  out.width = gt_size.width;
  Counter counter(o, ws);
  const bool by_bytes = bytes && (!inst || ws.inst_runs.active || ws.inst.u16_labels());
  if (!by_bytes && ws.gt_runs.active) {  // the general path reads the ground truth row by row
    ws.gt_runs.active = false;
    ws.gt.open(gt, o.max_pixels);
  }
  if (by_bytes) {
    if (!count_bytes(ws, gt_t, pred_t, inst != nullptr, o, counter, out.instances)) {
      ws.gt.open(gt, o.max_pixels);  // name the first refused pixel: rescan row by row, which throws there
      ws.pred.open(pred, o.max_pixels);
      if (inst) ws.inst.open(*inst, o.max_pixels);
      Counter again(o, ws);
      count_values(ws, gt_t, pred_t, inst != nullptr, o, again);
      throw UsageError("internal error: a refused label was not found again");
    }
    counter.collect(out.confusion);
  } else {
    count_values(ws, gt_t, pred_t, inst != nullptr, o, counter);
    counter.collect(out.confusion);
    out.instances.clear();
    if (inst) fill_instances(ws, o, out.instances);
  }
  ws.gt.shrink();
  ws.pred.shrink();
  ws.inst.shrink();
  ws.gt_runs.release();
  ws.inst_runs.release();
}

void check_table(const LabelTable& t, std::int32_t n, const char* what) {
  auto ok = [n](std::int32_t c) { return c == kSkip || c == kRefuse || (c >= 0 && c < n); };
  if (!ok(t.other)) throw UsageError(std::string(what) + " table: the code for other values is out of range");
  for (std::int32_t c : t.lut)
    if (!ok(c)) throw UsageError(std::string(what) + " table holds a code out of range");
}

}  // namespace

SemanticResult semantic_confusion(const std::vector<LabelSource>& gt, const std::vector<LabelSource>& pred,
                                  const std::vector<LabelSource>* instances, const LabelTable& gt_table,
                                  const LabelTable& pred_table, const SemanticOptions& o) {
  if (gt.size() != pred.size()) throw UsageError("as many predictions as ground-truth maps are needed");
  if (instances && instances->size() != gt.size()) throw UsageError("as many instance maps as ground-truth maps are needed");
  if (o.n_rows < 1 || o.n_cols < 1 || o.n_cols >= (1 << 21)) throw UsageError("n_rows and n_cols out of range");
  check_table(gt_table, o.n_rows, "ground-truth");
  check_table(pred_table, o.n_cols, "prediction");
  const std::int64_t n = static_cast<std::int64_t>(gt.size());
  SemanticResult result;
  result.images.resize(gt.size());
  std::atomic<std::int64_t> first_failure{n};
  std::mutex mutex;
  std::string message;
  bool missing = false;
  auto record = [&](std::int64_t i, std::string what, bool not_found) {
    std::lock_guard<std::mutex> lock(mutex);
    if (i < first_failure.load()) {
      first_failure.store(i);
      message = std::move(what);
      missing = not_found;
    }
  };
  parallel_for(n, o.workers, [&](std::int64_t i) {
    if (i > first_failure.load(std::memory_order_relaxed)) return;
    const std::size_t at = static_cast<std::size_t>(i);
    try {
      Workspace& ws = thread_workspace(o.inflate);
      count_image(gt[at], pred[at], instances ? &(*instances)[at] : nullptr, gt_table, pred_table, o, ws,
                  result.images[at]);
    } catch (const FileNotFound& e) {
      record(i, e.what(), true);
    } catch (const std::bad_alloc&) {
      record(i, "out of memory while reading '" + gt[at].name + "' and '" + pred[at].name + "'", false);
    } catch (const std::exception& e) {
      record(i, e.what(), false);
    }
  });
  if (first_failure.load() < n) {
    if (missing) throw FileNotFound(message);
    throw FormatError(message);
  }
  result.confusion.assign(std::size_t(o.n_rows) * std::size_t(o.n_cols), 0);
  for (const SemanticImage& image : result.images) {
    result.pixels += std::uint64_t{image.height} * image.width;
    for (const SparseCount& e : image.confusion) result.confusion[std::size_t(e.row) * o.n_cols + e.col] += e.count;
  }
  return result;
}

void read_labels(const LabelSource& source, std::uint64_t max_pixels, InflateBackend inflate,
                 std::vector<std::int64_t>& out, std::uint32_t& height, std::uint32_t& width) {
  LabelRows rows(inflate);
  rows.open(source, max_pixels);
  height = rows.height();
  width = rows.width();
  out.resize(std::size_t{height} * width);
  for (std::uint32_t y = 0; y < height; ++y) rows.next_values(out.data() + std::size_t{y} * width);
}

}  // namespace fastpq
