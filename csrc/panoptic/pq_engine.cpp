#include "panoptic/pq_engine.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <new>

#include "common/errors.hpp"
#include "panoptic/joint_histogram.hpp"
#include "common/parallel.hpp"
#include "png/png_reader.hpp"


namespace fastpq {
namespace {

// Buffers above this size are released after each image so that one huge image does not
// pin its memory in every thread.
constexpr std::size_t kKeepBufferBytes = std::size_t{256} << 20;

// Everything one thread needs to evaluate an image pair, kept across images and calls.
struct Workspace {
  explicit Workspace(InflateBackend b) : backend(b), png(b) {}
  InflateBackend backend;
  PanopticPngReader png;  // reads the ground truth, then the prediction into the same buffers
  StoredRows gt;
  JointHistogram hist;
  std::vector<HistEntry> entries;
  MatchScratch scratch;
  // Breakdowns
  BoundaryHistogram bands;
  BoundaryCounts boundary_counts;
  MatchScratch boundary_scratch;
  std::vector<std::uint64_t> pred_pixels;
  std::vector<double> best_iou;
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

bool has_void_segment(const GtSegments& gt) {
  for (std::size_t g = 0; g < gt.size; ++g)
    if (gt.id[g] == 0) return true;
  return false;
}

// Prepares the boundary bands of image i when they are asked for; returns the row sink or null.
RowSink* boundary_sink(const SegmentTables& tables, std::size_t i, std::uint32_t height, std::uint32_t width,
                       const EngineOptions& options, Workspace& ws) {
  if (!options.breakdown.boundary) return nullptr;
  ws.bands.start(width, height, boundary_dilation(height, width, options.breakdown.boundary_dilation_ratio),
                 !has_void_segment(tables.gt(i)));
  return &ws.bands;
}

// Opens image i's PNG from its bytes when the dataset holds them, else from its file.
void open_png(PanopticPngReader& reader, const std::string& name, const std::vector<PngBytes>& data, std::size_t i,
              std::uint64_t max_pixels) {
  if (i < data.size() && data[i].data != nullptr)
    reader.open_memory(data[i].data, data[i].size, name, max_pixels);
  else
    reader.open_file(name, max_pixels);
}

// Reads image i's PNG pair into `hist`.
void file_histogram(const PanopticDataset& d, std::size_t i, const EngineOptions& options, Workspace& ws) {
  open_png(ws.png, d.gt_files[i], d.gt_data, i, options.max_pixels);
  ws.gt.read(ws.png);
  open_png(ws.png, d.pred_files[i], d.pred_data, i, options.max_pixels);
  if (ws.gt.width() != ws.png.width() || ws.gt.height() != ws.png.height()) {
    auto size = [](const auto& image) { return std::to_string(image.width()) + "x" + std::to_string(image.height()); };
    throw SizeMismatch("ground truth '" + d.gt_files[i] + "' is " + size(ws.gt) + " pixels but prediction '" +
                       d.pred_files[i] + "' is " + size(ws.png));
  }
  build_joint_histogram(ws.gt, ws.png, ws.hist,
                        boundary_sink(d.tables, i, ws.gt.height(), ws.gt.width(), options, ws));
  ws.png.shrink_if_above(kKeepBufferBytes);
  ws.gt.shrink_if_above(kKeepBufferBytes);
}

// Runs `work()` and says why it failed, if it did: nothing may leave a parallel region.
// `describe()` names the image's inputs in messages that would not name them otherwise.
template <typename Work, typename Describe>
ImageFailure guarded(Work work, Describe describe) {
  ImageFailure f;
  try {
    work();
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
    f.message = "out of memory while reading " + describe();
  } catch (const std::exception& e) {
    f.kind = ImageFailure::kFile;
    f.message = describe() + ": " + e.what();
  }
  return f;
}

// Computes image i's breakdowns from its histogram (and boundary bands) and its matches.
void add_breakdowns(const SegmentTables& tables, std::size_t i, const ImageMatches& matches,
                    const BreakdownOptions& wanted, Workspace& ws, ImageBreakdown& out) {
  const GtSegments gt = tables.gt(i);
  const PredSegments pred = tables.pred(i);
  if (wanted.by_size) split_by_size(matches, ws.scratch, out.by_size);
  if (wanted.covering)
    parsing_covering(ws.entries, gt, pred, ws.scratch, out.covering, ws.pred_pixels, ws.best_iou);
  if (wanted.boundary) {
    ws.bands.finish(ws.boundary_counts);
    match_segments(ws.entries, gt, pred, tables.n_categories, out.boundary, ws.boundary_scratch,
                   &ws.boundary_counts);
  }
}

// Runs `histogram_of(i, workspace)` for every image in parallel, matches each image's segments
// and adds the statistics up in image order. `describe(i)` names image i's inputs in messages.
template <typename HistogramOf, typename Describe>
PanopticEvaluation run_images(std::size_t count, const SegmentTables& tables, const EngineOptions& options,
                              bool keep_images, CategoryTotals initial, BreakdownTotals initial_breakdown,
                              HistogramOf histogram_of, Describe describe) {
  tables.validate();
  if (tables.size() != count) throw UsageError("the segment tables do not have one entry per image");
  const std::size_t k = static_cast<std::size_t>(tables.n_categories);
  if (!initial.fits(k)) throw UsageError("initial totals do not have one entry per category");
  const BreakdownOptions& wanted = options.breakdown;
  initial_breakdown.start(k, wanted);
  const std::int64_t n = static_cast<std::int64_t>(count);
  PanopticEvaluation result;
  result.totals = std::move(initial);
  result.breakdown = std::move(initial_breakdown);
  std::vector<ImageMatches> images(count);
  std::vector<ImageBreakdown> breakdowns(wanted.any() ? count : 0);
  std::vector<std::vector<CategoryPixels>> semantic(options.semantic ? count : 0);

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
    const std::size_t at = static_cast<std::size_t>(i);
    ImageFailure f = guarded(
        [&] {
          Workspace& ws = thread_workspace(options.inflate);
          histogram_of(at, ws);
          ws.hist.sorted_entries(ws.entries);
          match_segments(ws.entries, tables.gt(at), tables.pred(at), tables.n_categories, images[at], ws.scratch);
          if (wanted.any()) add_breakdowns(tables, at, images[at], wanted, ws, breakdowns[at]);
          if (options.semantic)
            category_confusion(ws.entries, tables.gt(at), tables.pred(at), tables.n_categories, semantic[at]);
        },
        [&] { return describe(at); });
    if (f.kind != ImageFailure::kNone) record(i, std::move(f));
  };

  parallel_for(n, options.workers, run_one);

  if (result.failure.kind != ImageFailure::kNone) return result;
  for (const ImageMatches& image : images) result.totals.add(image);
  for (const ImageBreakdown& image : breakdowns) result.breakdown.add(image, wanted);
  if (keep_images) result.images = std::move(images);
  result.semantic = std::move(semantic);
  return result;
}

}  // namespace

void SegmentTables::validate() const {
  const std::size_t n = size();
  auto check_table = [n](const std::vector<std::int64_t>& offsets, std::size_t rows, const char* what) {
    if (offsets.size() != n + 1 || offsets.front() != 0 || static_cast<std::size_t>(offsets.back()) != rows)
      throw UsageError(std::string(what) + " offsets do not fit the segment arrays");
    for (std::size_t i = 0; i < n; ++i)
      if (offsets[i] > offsets[i + 1]) throw UsageError(std::string(what) + " offsets decrease");
  };
  if (gt_offsets.empty()) throw UsageError("ground-truth offsets are empty");
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

GtSegments SegmentTables::gt(std::size_t i) const {
  const std::size_t g0 = gt_offsets[i], g1 = gt_offsets[i + 1];
  return {gt_ids.data() + g0, gt_categories.data() + g0, gt_iscrowd.data() + g0, gt_areas.data() + g0, g1 - g0};
}

PredSegments SegmentTables::pred(std::size_t i) const {
  const std::size_t p0 = pred_offsets[i], p1 = pred_offsets[i + 1];
  return {pred_ids.data() + p0, pred_categories.data() + p0, p1 - p0};
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

void BreakdownTotals::start(std::size_t n, const BreakdownOptions& options) {
  if (!options.by_size) {
    by_size.clear();
  } else if (by_size.empty()) {
    by_size.assign(kSizeBuckets, CategoryTotals(n));
  } else if (by_size.size() != kSizeBuckets ||
             !std::all_of(by_size.begin(), by_size.end(), [n](const CategoryTotals& t) { return t.fits(n); })) {
    throw UsageError("initial by-size totals are not three buckets with one entry per category");
  }
  if (!options.covering) {
    covering = CoveringTotals();
  } else if (covering.empty()) {
    covering = CoveringTotals(n);
  } else if (!covering.fits(n)) {
    throw UsageError("initial covering sums do not have one entry per category");
  }
  if (!options.boundary) {
    boundary = CategoryTotals();
  } else if (boundary.fits(0)) {
    boundary = CategoryTotals(n);
  } else if (!boundary.fits(n)) {
    throw UsageError("initial boundary totals do not have one entry per category");
  }
}

void BreakdownTotals::add(const ImageBreakdown& image, const BreakdownOptions& options) {
  if (options.by_size)
    for (int b = 0; b < kSizeBuckets; ++b) by_size[b].add(image.by_size[b]);
  if (options.covering) covering.add(image.covering);
  if (options.boundary) boundary.add(image.boundary);
}

PanopticEvaluation evaluate_panoptic(const PanopticDataset& d, const EngineOptions& options, bool keep_images,
                                     CategoryTotals initial, BreakdownTotals initial_breakdown) {
  if (d.pred_files.size() != d.gt_files.size())
    throw UsageError("as many prediction files as ground-truth files are needed");
  if ((!d.gt_data.empty() && d.gt_data.size() != d.gt_files.size()) ||
      (!d.pred_data.empty() && d.pred_data.size() != d.pred_files.size()))
    throw UsageError("PNG bytes are needed for every image or for none");
  return run_images(
      d.gt_files.size(), d.tables, options, keep_images, std::move(initial), std::move(initial_breakdown),
      [&](std::size_t i, Workspace& ws) { file_histogram(d, i, options, ws); },
      [&](std::size_t i) { return "'" + d.gt_files[i] + "' and '" + d.pred_files[i] + "'"; });
}

PanopticEvaluation evaluate_panoptic(const IdMapBatch& batch, const SegmentTables& tables, const EngineOptions& options,
                                     bool keep_images, CategoryTotals initial, BreakdownTotals initial_breakdown) {
  return run_images(
      batch.count, tables, options, keep_images, std::move(initial), std::move(initial_breakdown),
      [&](std::size_t i, Workspace& ws) {
        IdMapView gt{static_cast<const char*>(batch.gt.data) + i * batch.gt_item_bytes, batch.gt.type};
        IdMapView pred{static_cast<const char*>(batch.pred.data) + i * batch.pred_item_bytes, batch.pred.type};
        RowSink* sink = boundary_sink(tables, i, static_cast<std::uint32_t>(batch.height),
                                      static_cast<std::uint32_t>(batch.width), options, ws);
        build_joint_histogram(gt, pred, batch.height, batch.width, ws.hist, sink);
      },
      [](std::size_t i) { return "id map pair " + std::to_string(i); });
}

ImagePairDecisions match_image_pair(const PanopticDataset& d, std::size_t image, const EngineOptions& options) {
  d.tables.validate();
  if (image >= d.tables.size() || d.gt_files.size() != d.tables.size() || d.pred_files.size() != d.tables.size())
    throw UsageError("image index out of range of the dataset");
  ImagePairDecisions out;
  out.failure = guarded(
      [&] {
        Workspace& ws = thread_workspace(options.inflate);
        file_histogram(d, image, options, ws);
        ws.hist.sorted_entries(ws.entries);
        match_segments(ws.entries, d.tables.gt(image), d.tables.pred(image), d.tables.n_categories, out.matches,
                       ws.scratch, nullptr, &out.decisions);
      },
      [&] { return "'" + d.gt_files[image] + "' and '" + d.pred_files[image] + "'"; });
  if (out.failure.kind != ImageFailure::kNone) out.failure.image_index = static_cast<std::int64_t>(image);
  return out;
}

}  // namespace fastpq
