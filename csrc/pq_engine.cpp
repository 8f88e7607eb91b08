#include "pq_engine.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <new>
#include <thread>

#include "errors.hpp"
#include "joint_histogram.hpp"
#include "png_reader.hpp"

#ifdef FASTPQ_HAVE_OPENMP
#include <omp.h>
#endif

namespace fastpq {
namespace {

// Buffers above this size are released after each image so that one huge image does not
// pin its memory in every thread.
constexpr std::size_t kKeepBufferBytes = std::size_t{256} << 20;

// Everything one thread needs to evaluate an image pair, kept across images and calls.
struct Workspace {
  explicit Workspace(InflateBackend b) : backend(b), gt(b), pred(b) {}
  InflateBackend backend;
  PanopticPngReader gt, pred;
  JointHistogram hist;
  std::vector<HistEntry> entries;
  MatchScratch scratch;
};

Workspace& thread_workspace(InflateBackend backend) {
  thread_local std::unique_ptr<Workspace> ws;
  if (!ws || ws->backend != backend) ws = std::make_unique<Workspace>(backend);
  return *ws;
}

class SizeMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void evaluate_image(const PanopticDataset& d, std::size_t i, const EngineOptions& options, Workspace& ws,
                    ImageMatches& out) {
  ws.gt.open_file(d.gt_files[i], options.max_pixels);
  ws.pred.open_file(d.pred_files[i], options.max_pixels);
  if (ws.gt.width() != ws.pred.width() || ws.gt.height() != ws.pred.height()) {
    auto size = [](const PanopticPngReader& r) {
      return std::to_string(r.width()) + "x" + std::to_string(r.height());
    };
    throw SizeMismatch("ground truth '" + d.gt_files[i] + "' is " + size(ws.gt) + " pixels but prediction '" +
                       d.pred_files[i] + "' is " + size(ws.pred));
  }
  build_joint_histogram(ws.gt, ws.pred, ws.hist);
  ws.hist.sorted_entries(ws.entries);
  const std::size_t g0 = d.gt_offsets[i], g1 = d.gt_offsets[i + 1];
  const std::size_t p0 = d.pred_offsets[i], p1 = d.pred_offsets[i + 1];
  GtSegments gt{d.gt_ids.data() + g0, d.gt_categories.data() + g0, d.gt_iscrowd.data() + g0,
                d.gt_areas.data() + g0, g1 - g0};
  PredSegments pred{d.pred_ids.data() + p0, d.pred_categories.data() + p0, p1 - p0};
  match_segments(ws.entries, gt, pred, d.n_categories, out, ws.scratch);
  ws.gt.shrink_if_above(kKeepBufferBytes);
  ws.pred.shrink_if_above(kKeepBufferBytes);
}

}  // namespace

void PanopticDataset::validate() const {
  const std::size_t n = gt_files.size();
  auto check_table = [n](const std::vector<std::int64_t>& offsets, std::size_t rows, const char* what) {
    if (offsets.size() != n + 1 || offsets.front() != 0 || static_cast<std::size_t>(offsets.back()) != rows)
      throw UsageError(std::string(what) + " offsets do not fit the segment arrays");
    for (std::size_t i = 0; i < n; ++i)
      if (offsets[i] > offsets[i + 1]) throw UsageError(std::string(what) + " offsets decrease");
  };
  if (pred_files.size() != n) throw UsageError("as many prediction files as ground-truth files are needed");
  if (n_categories < 0) throw UsageError("negative number of categories");
  check_table(gt_offsets, gt_ids.size(), "ground-truth");
  check_table(pred_offsets, pred_ids.size(), "prediction");
  const std::size_t g = gt_ids.size(), p = pred_ids.size();
  if (gt_categories.size() != g || gt_iscrowd.size() != g || gt_areas.size() != g || pred_categories.size() != p)
    throw UsageError("segment arrays of different lengths");
  for (std::int32_t c : gt_categories)
    if (c < -1 || c >= n_categories) throw UsageError("ground-truth category index out of range");
  for (std::int32_t c : pred_categories)
    if (c < -1 || c >= n_categories) throw UsageError("prediction category index out of range");
}

void CategoryTotals::add(const ImageMatches& image) {
  for (const auto& m : image.matches) {
    tp[m.first] += 1;
    iou[m.first] += m.second;
  }
  for (std::int32_t c : image.false_negatives)
    if (c >= 0) fn[c] += 1;
  for (std::int32_t c : image.false_positives) fp[c] += 1;
}

int resolve_workers(int workers) {
  if (workers > 0) return workers;
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

PanopticEvaluation evaluate_panoptic(const PanopticDataset& d, const EngineOptions& options, bool keep_images,
                                     CategoryTotals initial) {
  d.validate();
  const std::size_t k = static_cast<std::size_t>(d.n_categories);
  if (initial.tp.size() != k || initial.fp.size() != k || initial.fn.size() != k || initial.iou.size() != k)
    throw UsageError("initial totals do not have one entry per category");
  const std::int64_t n = static_cast<std::int64_t>(d.size());
  PanopticEvaluation result;
  result.totals = std::move(initial);
  std::vector<ImageMatches> images(static_cast<std::size_t>(n));

  std::atomic<std::int64_t> first_failure{n};
  std::mutex failure_mutex;
  auto record = [&](std::int64_t i, ImageFailure f) {
    std::lock_guard<std::mutex> lock(failure_mutex);
    if (i < first_failure.load()) {
      f.image_index = i;
      result.failure = std::move(f);
      first_failure.store(i);
    }
  };
  auto run_one = [&](std::int64_t i) {
    if (i > first_failure.load(std::memory_order_relaxed)) return;  // an earlier image failed already
    ImageFailure f;
    try {
      evaluate_image(d, static_cast<std::size_t>(i), options, thread_workspace(options.inflate),
                     images[static_cast<std::size_t>(i)]);
      return;
    } catch (const FileNotFound& e) {
      f.kind = ImageFailure::kFileMissing;
      f.message = e.what();
    } catch (const FormatError& e) {
      f.kind = ImageFailure::kFile;
      f.message = e.what();
    } catch (const SizeMismatch& e) {
      f.kind = ImageFailure::kSizeMismatch;
      f.message = e.what();
    } catch (const SegmentError& e) {
      f.kind = ImageFailure::kSegment;
      f.segment_kind = e.kind;
      f.segment_id = e.segment_id;
      f.segment_ids = e.ids;
      f.message = e.what();
    } catch (const std::bad_alloc&) {
      f.kind = ImageFailure::kFile;
      f.message = "out of memory while decoding '" + d.gt_files[i] + "' and '" + d.pred_files[i] + "'";
    } catch (const std::exception& e) {  // nothing may leave a parallel region
      f.kind = ImageFailure::kFile;
      f.message = "'" + d.gt_files[i] + "' and '" + d.pred_files[i] + "': " + e.what();
    }
    record(i, std::move(f));
  };

  const int threads = static_cast<int>(std::min<std::int64_t>(resolve_workers(options.workers), std::max<std::int64_t>(n, 1)));
#ifdef FASTPQ_HAVE_OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t i = 0; i < n; ++i) run_one(i);
#else
  std::atomic<std::int64_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&] { for (std::int64_t i; (i = next++) < n;) run_one(i); });
  for (std::int64_t i; (i = next++) < n;) run_one(i);
  for (auto& t : pool) t.join();
#endif

  if (result.failure.kind != ImageFailure::kNone) return result;
  for (const ImageMatches& image : images) result.totals.add(image);
  if (keep_images) result.images = std::move(images);
  return result;
}

}  // namespace fastpq
