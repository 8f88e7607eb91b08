// The joint label histogram of an image pair: pixel counts per (gt id, pred id), built from
// runs of equal ids so that the work per row follows the number of segment boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "png/png_reader.hpp"

namespace fastpq {

struct HistEntry {
  std::uint32_t gt;
  std::uint32_t pred;
  std::uint64_t count;
};

class JointHistogram {
 public:
  void clear();
  void add(std::uint32_t gt, std::uint32_t pred, std::uint64_t count) { add_key(key(gt, pred), count); }
  // Entries in increasing (gt, pred) order: the order of panopticapi's np.unique.
  void sorted_entries(std::vector<HistEntry>& out) const;
  std::size_t size() const { return size_; }

  // Adds each piece's count times `repeat`.
  void add_pieces(const std::vector<HistEntry>& pieces, std::uint64_t repeat) {
    add_pieces(pieces.data(), pieces.size(), repeat);
  }
  void add_pieces(const HistEntry* pieces, std::size_t n, std::uint64_t repeat);

  static std::uint64_t key(std::uint32_t gt, std::uint32_t pred) { return (std::uint64_t{gt} << 24) | pred; }

 private:
  // Inline: it runs once per piece of every row.
  void add_key(std::uint64_t key, std::uint64_t count) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    const std::size_t mask = keys_.size() - 1;
    std::size_t slot = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    while (true) {
      const std::uint64_t k = keys_[slot];
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
  void grow();

  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  std::vector<std::uint64_t> keys_;
  std::vector<std::uint64_t> counts_;
  std::vector<std::size_t> used_;  // slots in use, so clearing costs the entries, not the table
  std::size_t size_ = 0;
  int shift_ = 64;
};

// Merges the runs of a gt row and a pred row into pieces of constant (gt id, pred id), written
// to `out`, which has room for gt_runs.size() + pred_runs.size() pieces; returns their number.
std::size_t merge_runs(RunSpan gt_runs, RunSpan pred_runs, HistEntry* out);

// Sees the runs of every row of both images, in row order, while a joint histogram is built.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void row(RunSpan gt, RunSpan pred) = 0;
};

// Reads both images row by row and accumulates their joint histogram into `hist` (cleared first):
// the ground truth's rows read ahead, the prediction open in `pred`, both of the same size.
// `sink`, when given, sees every row.
void build_joint_histogram(StoredRows& gt, PanopticPngReader& pred, JointHistogram& hist, RowSink* sink = nullptr);
// Element types an id map in memory may have.
enum class IdType { kU8, kU16, kU32, kI32, kI64, kU64 };

// A row-major id map of height x width; ids must lie in [0, 2^24) (FormatError otherwise).
struct IdMapView {
  const void* data;
  IdType type;
};

// The same for two id maps in memory, of height x width each.
void build_joint_histogram(IdMapView gt, IdMapView pred, std::size_t height, std::size_t width,
                           JointHistogram& hist, RowSink* sink = nullptr);

}  // namespace fastpq
