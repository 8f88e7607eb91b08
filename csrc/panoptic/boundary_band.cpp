#include "panoptic/boundary_band.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "common/errors.hpp"

namespace fastpq {
namespace {

constexpr std::uint32_t kNone = ~std::uint32_t{0};  // above every 24-bit id

void append(std::vector<BandTracker::BandRun>& out, std::uint32_t end, std::uint32_t id, bool band) {
  if (!out.empty() && out.back().id == id && out.back().band == band) {
    out.back().end = end;
    return;
  }
  out.push_back({end, id, band});
}

}  // namespace

std::uint32_t boundary_dilation(std::uint32_t height, std::uint32_t width, double ratio) {
  if (!(ratio >= 0) || !std::isfinite(ratio))
    throw UsageError("the boundary dilation ratio must be a finite number >= 0, not " + std::to_string(ratio));
  const double diagonal = std::sqrt(static_cast<double>(std::uint64_t{height} * height + std::uint64_t{width} * width));
  const double rounded = std::nearbyint(ratio * diagonal);  // ties to even under the default rounding mode
  // Any width past max(height, width) gives the same bands (all pixels); this keeps it in range.
  const double cap = std::max<double>({1.0, static_cast<double>(height), static_cast<double>(width)});
  return static_cast<std::uint32_t>(std::max(1.0, std::min(rounded, cap)));
}

void BandTracker::start(std::uint32_t width, std::uint32_t height, std::uint32_t dilation) {
  width_ = width;
  height_ = height;
  // Past max(height, width) every pixel is in its band already; the cap bounds the rows kept.
  d_ = std::max<std::uint32_t>(std::min(dilation, std::max({height, width, 1u})), 1);
  pushed_ = emitted_ = 0;
  ring_.resize(std::size_t{d_} + 1);
  value_.assign(width, kNone);
  since_.assign(width, 0);
  inside_.assign(width, 0);
}

bool BandTracker::push(RunSpan runs) {
  const std::size_t row = pushed_++;
  std::vector<Run>& kept = ring_[row % ring_.size()];
  const std::vector<Run>& above = ring_[(row + ring_.size() - 1) % ring_.size()];
  const bool repeats = row > 0 && above.size() == runs.size() &&
                       std::equal(runs.begin(), runs.end(), above.begin(),
                                  [](const Run& a, const Run& b) { return a.end == b.end && a.id == b.id; });
  kept.assign(runs.begin(), runs.end());
  if (!repeats) {  // a repeated row leaves every column's value, and so its streak, as it was
    const std::int64_t d = d_;
    std::uint32_t* __restrict value = value_.data();
    std::uint32_t* __restrict since = since_.data();
    std::int64_t s = 0;
    for (const Run& run : runs) {
      const std::int64_t e = run.end;
      const std::int64_t lo = std::min(s + d, e), hi = std::max(lo, e - d);
      for (std::int64_t x = s; x < lo; ++x) value[x] = kNone;
      const std::uint32_t id = run.id, now = static_cast<std::uint32_t>(row);
      for (std::int64_t x = lo; x < hi; ++x) {  // branch-free, so that it vectorizes
        since[x] = value[x] == id ? since[x] : now;
        value[x] = id;
      }
      for (std::int64_t x = hi; x < e; ++x) value[x] = kNone;
      s = e;
    }
  }
  if (row < d_) return false;
  emit(row - d_, true);
  return true;
}

bool BandTracker::flush() {
  if (emitted_ >= pushed_) return false;
  emit(emitted_, false);  // within d rows of the bottom edge: all band
  return true;
}

void BandTracker::emit(std::size_t row, bool use_counts) {
  emitted_ = row + 1;
  out_.clear();
  // Inside: the column's value has held from row - d (or earlier) through row + d, the last pushed.
  const std::uint32_t latest = row >= d_ ? static_cast<std::uint32_t>(row - d_) : 0;
  const bool any_inside = use_counts && row >= d_;
  std::uint32_t s = 0;
  for (const Run& run : ring_[row % ring_.size()]) {
    const std::uint32_t e = run.end;
    if (any_inside && e > s + 2 * d_) {
      // Only [s + d, e - d) can be inside: the rest is within d of another id in this row.
      std::uint32_t x = s + d_;
      append(out_, x, run.id, true);
      const std::uint32_t hi = e - d_;
      std::uint8_t* __restrict inside = inside_.data();
      const std::uint32_t* __restrict value = value_.data();
      const std::uint32_t* __restrict since = since_.data();
      for (std::uint32_t i = x; i < hi; ++i)  // restrict: no aliasing, so that it vectorizes
        inside[i] = static_cast<std::uint8_t>((value[i] != kNone) & (since[i] <= latest));
      while (x < hi) {
        const std::uint8_t flag = inside[x];
        const void* other = std::memchr(inside + x, flag ^ 1, hi - x);
        const std::uint32_t y = other ? static_cast<std::uint32_t>(static_cast<const std::uint8_t*>(other) - inside) : hi;
        append(out_, y, run.id, flag == 0);
        x = y;
      }
    }
    append(out_, e, run.id, true);
    s = e;
  }
}

void boundary_band_mask(const std::uint32_t* ids, std::uint32_t height, std::uint32_t width, std::uint32_t dilation,
                        std::uint8_t* out) {
  BandTracker tracker;
  tracker.start(width, height, dilation);
  RowRuns runs;
  std::size_t y = 0;
  auto write_row = [&]() {
    std::uint32_t x = 0;
    for (const auto& run : tracker.runs())
      for (; x < run.end; ++x) out[y * width + x] = run.band ? 1 : 0;
    ++y;
  };
  for (std::uint32_t r = 0; r < height; ++r) {
    const std::uint32_t* row = ids + std::size_t{r} * width;
    Run* o = runs.prepare(std::size_t{width} + 1);
    std::size_t n = 0;
    for (std::uint32_t x = 1; x <= width; ++x)
      if (x == width || row[x] != row[x - 1]) o[n++] = {x, row[x - 1]};
    runs.set_size(n);
    if (tracker.push(runs)) write_row();
  }
  while (tracker.flush()) write_row();
}

void BoundaryHistogram::start(std::uint32_t width, std::uint32_t height, std::uint32_t dilation, bool void_whole) {
  gt_.start(width, height, dilation);
  pred_.start(width, height, dilation);
  void_whole_ = void_whole;
  pairs_.clear();
  gt_band_.clear();
  pred_band_.clear();
  last_gt_.clear();
  last_pred_.clear();
  pair_pieces_.clear();
  gt_pieces_.clear();
  pred_pieces_.clear();
  repeat_ = 0;
}

void BoundaryHistogram::row(RunSpan gt, RunSpan pred) {
  const bool ready = gt_.push(gt);
  pred_.push(pred);
  if (ready) add_ready_row();
}

void BoundaryHistogram::add_pieces() {
  pairs_.add_pieces(pair_pieces_, repeat_);
  gt_band_.add_pieces(gt_pieces_, repeat_);
  pred_band_.add_pieces(pred_pieces_, repeat_);
}

void BoundaryHistogram::add_ready_row() {
  const auto& g = gt_.runs();
  const auto& p = pred_.runs();
  if (repeat_ > 0 && g == last_gt_ && p == last_pred_) {  // rows inside large segments repeat
    ++repeat_;
    return;
  }
  add_pieces();
  last_gt_ = g;
  last_pred_ = p;
  repeat_ = 1;
  gt_pieces_.clear();
  pred_pieces_.clear();
  pair_pieces_.clear();
  std::uint32_t x = 0;
  for (const auto& run : g) {
    if (run.band) gt_pieces_.push_back({run.id, 0, run.end - x});
    x = run.end;
  }
  x = 0;
  for (const auto& run : p) {
    if (run.band) pred_pieces_.push_back({0, run.id, run.end - x});
    x = run.end;
  }
  x = 0;
  auto gi = g.begin();
  auto pi = p.begin();
  while (gi != g.end() && pi != p.end()) {
    const std::uint32_t end = std::min(gi->end, pi->end);
    if (pi->band && (gi->band || (void_whole_ && gi->id == 0))) pair_pieces_.push_back({gi->id, pi->id, end - x});
    x = end;
    if (gi->end == end) ++gi;
    if (pi->end == end) ++pi;
  }
}

void BoundaryHistogram::finish(BoundaryCounts& out) {
  while (gt_.flush()) {
    pred_.flush();
    add_ready_row();
  }
  add_pieces();
  repeat_ = 0;
  pairs_.sorted_entries(out.pairs);
  gt_band_.sorted_entries(out.gt_band);
  pred_band_.sorted_entries(out.pred_band);
}

}  // namespace fastpq
