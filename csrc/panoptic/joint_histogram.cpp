#include "panoptic/joint_histogram.hpp"

#include <algorithm>
#include <string>
#include <type_traits>

#include "common/errors.hpp"
#include "png/png_rows.hpp"

namespace fastpq {

void JointHistogram::clear() {
  for (std::size_t slot : used_) keys_[slot] = kEmpty;
  used_.clear();
  size_ = 0;
}

void JointHistogram::grow() {
  std::size_t capacity = keys_.empty() ? 1024 : keys_.size() * 2;
  std::vector<std::uint64_t> old_keys(capacity, kEmpty), old_counts(capacity, 0);
  old_keys.swap(keys_);
  old_counts.swap(counts_);
  std::vector<std::size_t> old_used;
  old_used.swap(used_);
  shift_ = 64 - __builtin_ctzll(capacity);
  size_ = 0;
  for (std::size_t slot : old_used) add_key(old_keys[slot], old_counts[slot]);
}

void JointHistogram::sorted_entries(std::vector<HistEntry>& out) const {
  out.clear();
  out.reserve(size_);
  for (std::size_t slot : used_) {
    std::uint64_t k = keys_[slot];
    out.push_back({static_cast<std::uint32_t>(k >> 24), static_cast<std::uint32_t>(k & 0xFFFFFFu), counts_[slot]});
  }
  std::sort(out.begin(), out.end(), [](const HistEntry& a, const HistEntry& b) {
    return a.gt != b.gt ? a.gt < b.gt : a.pred < b.pred;
  });
}

void JointHistogram::add_pieces(const HistEntry* pieces, std::size_t n, std::uint64_t repeat) {
  if (repeat == 0) return;
  for (std::size_t i = 0; i < n; ++i) add(pieces[i].gt, pieces[i].pred, pieces[i].count * repeat);
}

std::size_t merge_runs(RunSpan gt_runs, RunSpan pred_runs, HistEntry* out) {
  // Fields are stored one by one through a local pointer: building a HistEntry whole and copying
  // it into a vector stalled every piece on store forwarding.
  HistEntry* o = out;
  const Run* g = gt_runs.begin();
  const Run* p = pred_runs.begin();
  const Run* g_end = gt_runs.end();
  const Run* p_end = pred_runs.end();
  std::uint32_t x = 0;
  while (g != g_end && p != p_end) {
    const std::uint32_t ge = g->end, pe = p->end;
    const std::uint32_t end = std::min(ge, pe);
    o->gt = g->id;
    o->pred = p->id;
    o->count = end - x;
    ++o;
    x = end;
    g += ge == end;
    p += pe == end;
  }
  return static_cast<std::size_t>(o - out);
}

namespace {

// Rows of an id map in memory of element type T, offered the way PanopticPngReader offers a
// PNG's. Ids are checked run by run, so no separate pass over the map is needed.
template <typename T>
class IdMapRows {
 public:
  IdMapRows(const void* ids, std::size_t width) : ids_(static_cast<const T*>(ids)), width_(width) {}

  bool next_row() {
    const T* row = ids_ + y_ * width_;
    ++y_;
    RowRuns& target = runs_[current_ ^ 1];
    Run* out = target.prepare(width_ + 1);
    std::size_t count = 0;
    if constexpr (std::is_same_v<T, std::uint32_t>) {
      // One pass finds the runs; a repeated row is then told by its runs, not by a second pass
      // comparing the pixels with the row above.
      count = row_kernels().id_row_runs(row, width_, out);
      for (std::size_t r = 0; r < count; ++r) checked(out[r].id);
      if (y_ > 1 && same_runs(out, count, runs_[current_])) return false;
    } else {
      if (y_ > 1 && std::equal(row, row + width_, row - width_)) return false;
      T id = row[0];
      for (std::size_t x = 1; x < width_; ++x) {
        if (row[x] != id) {
          out[count++] = {static_cast<std::uint32_t>(x), checked(id)};
          id = row[x];
        }
      }
      out[count++] = {static_cast<std::uint32_t>(width_), checked(id)};
    }
    target.set_size(count);
    current_ ^= 1;
    return true;
  }
  const RowRuns& row_runs() const { return runs_[current_]; }

 private:
  static bool same_runs(const Run* runs, std::size_t count, const RowRuns& other) {
    if (count != other.size()) return false;
    const Run* o = other.begin();
    for (std::size_t r = 0; r < count; ++r)
      if (runs[r].end != o[r].end || runs[r].id != o[r].id) return false;
    return true;
  }
  static std::uint32_t checked(T id) {
    bool negative = false;
    if constexpr (std::is_signed_v<T>) negative = id < 0;
    if (negative || static_cast<std::uint64_t>(id) > 0xFFFFFFu)
      throw FormatError("id map holds id " + std::to_string(id) + ", outside the panoptic range [0, 2^24)");
    return static_cast<std::uint32_t>(id);
  }
  const T* ids_;
  std::size_t width_;
  std::size_t y_ = 0;
  RowRuns runs_[2];
  int current_ = 0;
};

// Reads two row sources in step; consecutive rows whose ids repeat in both are counted once,
// times `repeat`.
template <typename GtRows, typename PredRows>
void accumulate_rows(std::size_t height, GtRows& gt, PredRows& pred, JointHistogram& hist, RowSink* sink) {
  hist.clear();
  thread_local std::vector<HistEntry> pieces;
  std::size_t n_pieces = 0;
  std::uint64_t repeat = 0;
  for (std::size_t y = 0; y < height; ++y) {
    bool gt_changed = gt.next_row();
    bool pred_changed = pred.next_row();
    if (sink) sink->row(gt.row_runs(), pred.row_runs());
    if (y == 0 || gt_changed || pred_changed) {
      hist.add_pieces(pieces.data(), n_pieces, repeat);
      const std::size_t room = gt.row_runs().size() + pred.row_runs().size();
      if (pieces.size() < room) pieces.resize(room);
      n_pieces = merge_runs(gt.row_runs(), pred.row_runs(), pieces.data());
      repeat = 1;
    } else {
      ++repeat;
    }
  }
  hist.add_pieces(pieces.data(), n_pieces, repeat);
}

}  // namespace

void build_joint_histogram(StoredRows& gt, PanopticPngReader& pred, JointHistogram& hist, RowSink* sink) {
  accumulate_rows(gt.height(), gt, pred, hist, sink);
}

namespace {

// Calls f with the rows of `view` as IdMapRows of its element type.
template <typename F>
void dispatch_rows(IdMapView view, std::size_t width, F f) {
  switch (view.type) {
    case IdType::kU8: { IdMapRows<std::uint8_t> rows(view.data, width); return f(rows); }
    case IdType::kU16: { IdMapRows<std::uint16_t> rows(view.data, width); return f(rows); }
    case IdType::kU32: { IdMapRows<std::uint32_t> rows(view.data, width); return f(rows); }
    case IdType::kI32: { IdMapRows<std::int32_t> rows(view.data, width); return f(rows); }
    case IdType::kI64: { IdMapRows<std::int64_t> rows(view.data, width); return f(rows); }
    case IdType::kU64: { IdMapRows<std::uint64_t> rows(view.data, width); return f(rows); }
  }
}

}  // namespace

void build_joint_histogram(IdMapView gt, IdMapView pred, std::size_t height, std::size_t width,
                           JointHistogram& hist, RowSink* sink) {
  if (width == 0 || height == 0) {
    hist.clear();
    return;
  }
  dispatch_rows(gt, width, [&](auto& gt_rows) {
    dispatch_rows(pred, width, [&](auto& pred_rows) { accumulate_rows(height, gt_rows, pred_rows, hist, sink); });
  });
}

}  // namespace fastpq
