// Boundary bands of panoptic segments (Cheng et al. 2021, "Boundary IoU"), for Boundary PQ.
//
// A pixel lies in its segment's band when some pixel within chessboard distance d of it has
// another id or lies outside the image; this is the Boundary IoU API's mask_to_boundary (the mask
// padded by one zero pixel, eroded d times by a 3x3 square, subtracted from the mask). The bands
// of all segments of an id map are found in one pass over its rows: a pixel is inside (not in the
// band) exactly when, for each of the 2d+1 rows around it, the 2d+1 pixels around it in that row
// hold its id, which is a run test per row followed by a count of equal rows per column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "panoptic/joint_histogram.hpp"
#include "panoptic/pq_match.hpp"

namespace fastpq {

// The Boundary IoU API's band width for an image of height x width: round(ratio * diagonal)
// (ties to even, as Python's round), at least 1. Throws UsageError for a ratio that is negative
// or not finite.
std::uint32_t boundary_dilation(std::uint32_t height, std::uint32_t width, double ratio);

// One id map's rows, turned into band runs d rows later (a row's band depends on the d rows below).
class BandTracker {
 public:
  // A pixel run of a row with its band flag: pixels [previous end, end) hold `id`.
  struct BandRun {
    std::uint32_t end;
    std::uint32_t id;
    bool band;
    bool operator==(const BandRun& o) const { return end == o.end && id == o.id && band == o.band; }
  };

  void start(std::uint32_t width, std::uint32_t height, std::uint32_t dilation);
  // Takes the next row's runs. Returns true when row (rows pushed - 1 - d) is ready in runs().
  bool push(RunSpan runs);
  // Readies the next of the rows still held once all rows are pushed; false when none is left.
  bool flush();
  const std::vector<BandRun>& runs() const { return out_; }

 private:
  void emit(std::size_t row, bool use_counts);

  std::uint32_t width_ = 0, height_ = 0, d_ = 0;
  std::size_t pushed_ = 0, emitted_ = 0;
  std::vector<std::vector<Run>> ring_;  // the last d + 1 rows, by row % (d + 1)
  // Per column: the id when the 2d+1 pixels around it in the last row share it (else kNone), and
  // the first row of the streak of rows with that same value.
  std::vector<std::uint32_t> value_, since_;
  std::vector<std::uint8_t> inside_;  // scratch: the emitted row's inside pixels
  std::vector<BandRun> out_;
};

// Marks (1) the pixels of a row-major height x width id map that lie in their segment's band.
void boundary_band_mask(const std::uint32_t* ids, std::uint32_t height, std::uint32_t width, std::uint32_t dilation,
                        std::uint8_t* out);

// Builds the Boundary IoU API's boundary histogram of an image pair while its joint histogram is
// built: pixel counts per (gt label, pred label) where the pred pixel lies in its segment's band
// and the gt pixel in its own, or is void (id 0 outside the GT table, which the reference leaves
// whole in its band map); and the band size of every id.
class BoundaryHistogram : public RowSink {
 public:
  // `void_whole`: GT id 0 is no segment of the image's table.
  void start(std::uint32_t width, std::uint32_t height, std::uint32_t dilation, bool void_whole);
  void row(RunSpan gt, RunSpan pred) override;
  // Completes the image and writes its sorted counts.
  void finish(BoundaryCounts& out);

 private:
  void add_ready_row();
  void add_pieces();

  BandTracker gt_, pred_;
  bool void_whole_ = true;
  JointHistogram pairs_, gt_band_, pred_band_;
  // The last ready row's pieces, added (times `repeat_`) once a different row comes.
  std::vector<BandTracker::BandRun> last_gt_, last_pred_;
  std::vector<HistEntry> pair_pieces_, gt_pieces_, pred_pieces_;
  std::uint64_t repeat_ = 0;
};

}  // namespace fastpq
