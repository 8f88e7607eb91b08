#include "joint_histogram.hpp"

#include <algorithm>

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

void JointHistogram::add_key(std::uint64_t key, std::uint64_t count) {
  if (2 * (size_ + 1) > keys_.size()) grow();
  const std::size_t mask = keys_.size() - 1;
  std::size_t slot = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  while (true) {
    std::uint64_t k = keys_[slot];
    if (k == key) {
      counts_[slot] += count;
      return;
    }
    if (k == kEmpty) {
      keys_[slot] = key;
      counts_[slot] = count;
      used_.push_back(slot);
      ++size_;
      return;
    }
    slot = (slot + 1) & mask;
  }
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

void JointHistogram::add_pieces(const std::vector<HistEntry>& pieces, std::uint64_t repeat) {
  if (repeat == 0) return;
  for (const HistEntry& p : pieces) add(p.gt, p.pred, p.count * repeat);
}

void merge_runs(const RowRuns& gt_runs, const RowRuns& pred_runs, std::vector<HistEntry>& pieces) {
  pieces.clear();
  const Run* g = gt_runs.begin();
  const Run* p = pred_runs.begin();
  std::uint32_t x = 0;
  while (g != gt_runs.end() && p != pred_runs.end()) {
    std::uint32_t end = std::min(g->end, p->end);
    pieces.push_back({g->id, p->id, end - x});
    x = end;
    if (g->end == end) ++g;
    if (p->end == end) ++p;
  }
}

void build_joint_histogram(PanopticPngReader& gt, PanopticPngReader& pred, JointHistogram& hist) {
  hist.clear();
  thread_local std::vector<HistEntry> pieces;
  pieces.clear();
  // Consecutive rows whose ids repeat in both images are counted once, times `repeat`.
  std::uint64_t repeat = 0;
  for (std::uint32_t y = 0; y < gt.height(); ++y) {
    bool gt_changed = gt.next_row();
    bool pred_changed = pred.next_row();
    if (y == 0 || gt_changed || pred_changed) {
      hist.add_pieces(pieces, repeat);
      merge_runs(gt.row_runs(), pred.row_runs(), pieces);
      repeat = 1;
    } else {
      ++repeat;
    }
  }
  hist.add_pieces(pieces, repeat);
  pieces.clear();
}

}  // namespace fastpq
