// Bindings of the panoptic metric (csrc/panoptic/): evaluation over PNG files or id maps, joint
// histograms, boundary bands and one image pair's per-segment decisions.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "bindings/register.hpp"
#include "common/errors.hpp"
#include "panoptic/joint_histogram.hpp"
#include "panoptic/pq_engine.hpp"
#include "png/inflate.hpp"
#include "png/png_reader.hpp"

namespace py = pybind11;

namespace fastpq {

namespace {


const char* segment_kind_name(SegmentError::Kind k) {
  switch (k) {
    case SegmentError::kPngIdNotInJson: return "png_id_not_in_json";
    case SegmentError::kUnknownCategory: return "unknown_category";
    case SegmentError::kJsonIdsNotInPng: return "json_ids_not_in_png";
    case SegmentError::kBadArea: return "bad_area";
  }
  return "unknown";
}

py::object failure_to_python(const ImageFailure& f) {
  if (f.kind == ImageFailure::kNone) return py::none();
  py::dict d;
  const char* kind = segment_kind_name(f.segment_kind);
  if (f.kind == ImageFailure::kFile) kind = "file";
  if (f.kind == ImageFailure::kFileMissing) kind = "file_missing";
  if (f.kind == ImageFailure::kSizeMismatch) kind = "size_mismatch";
  d["kind"] = kind;
  d["image_index"] = f.image_index;
  d["segment_id"] = f.segment_id;
  d["segment_ids"] = f.segment_ids;
  d["message"] = f.message;
  return std::move(d);
}

// Per-image, per-category sums as columns: image index, category index, tp, fp, fn, iou.
py::dict image_rows_to_python(const std::vector<ImageMatches>& images) {
  ImageRows r = image_rows(images);
  py::dict d;
  d["image"] = std::move(r.image);
  d["category"] = std::move(r.category);
  d["tp"] = std::move(r.tp);
  d["fp"] = std::move(r.fp);
  d["fn"] = std::move(r.fn);
  d["iou"] = std::move(r.iou);
  return d;
}

// Segment tables and totals cross as lists: the file path never needs numpy, which would double
// the memory of a small process.
using Ids = std::vector<std::int64_t>;
using Categories = std::vector<std::int32_t>;
using OptionalCounts = std::optional<std::vector<std::int64_t>>;
using OptionalSums = std::optional<std::vector<double>>;

SegmentTables make_tables(Ids gt_offsets, Ids gt_ids, Categories gt_categories, std::vector<std::uint8_t> gt_iscrowd,
                          std::vector<double> gt_areas, Ids pred_offsets, Ids pred_ids, Categories pred_categories,
                          std::int32_t n_categories) {
  return {std::move(gt_offsets),   std::move(gt_ids),   std::move(gt_categories),   std::move(gt_iscrowd),
          std::move(gt_areas),     std::move(pred_offsets), std::move(pred_ids), std::move(pred_categories),
          n_categories};
}

// The id map view of a C-contiguous integer array (the element types the engine reads directly).
IdMapView id_map_view(const py::array& a) {
  if (!(a.flags() & py::array::c_style)) throw UsageError("id maps must be C-contiguous");
  if (misaligned(a)) throw UsageError("id maps must be aligned arrays");
  if (byte_swapped(a)) throw UsageError("id maps must be in native byte order");
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'u' && size == 1) return {a.data(), IdType::kU8};
  if (kind == 'u' && size == 2) return {a.data(), IdType::kU16};
  if (kind == 'u' && size == 4) return {a.data(), IdType::kU32};
  if (kind == 'i' && size == 4) return {a.data(), IdType::kI32};
  if (kind == 'i' && size == 8) return {a.data(), IdType::kI64};
  if (kind == 'u' && size == 8) return {a.data(), IdType::kU64};
  throw UsageError("id maps must be uint8, uint16, uint32, int32, int64 or uint64 arrays");
}

EngineOptions make_options(int workers, std::uint64_t max_pixels, const std::string& inflate) {
  EngineOptions options;
  options.workers = workers;
  options.max_pixels = max_pixels;
  options.inflate = parse_inflate_backend(inflate);
  return options;
}

CategoryTotals make_initial(std::size_t k, OptionalCounts tp, OptionalCounts fp, OptionalCounts fn, OptionalSums iou) {
  CategoryTotals initial(k);
  if (tp) initial.tp = std::move(*tp);
  if (fp) initial.fp = std::move(*fp);
  if (fn) initial.fn = std::move(*fn);
  if (iou) initial.iou = std::move(*iou);
  return initial;
}

py::dict totals_to_python(const CategoryTotals& t) {
  py::dict d;
  d["tp"] = t.tp;
  d["fp"] = t.fp;
  d["fn"] = t.fn;
  d["iou"] = t.iou;
  return d;
}

// The requested breakdowns: by_size (small, medium, large totals), covering sums, boundary totals.
py::dict breakdown_to_python(const BreakdownTotals& b, const BreakdownOptions& options) {
  py::dict d;
  if (options.by_size) {
    py::list sizes;
    for (const CategoryTotals& t : b.by_size) sizes.append(totals_to_python(t));
    d["by_size"] = sizes;
  }
  if (options.covering) {
    py::dict c;
    c["weighted_iou"] = b.covering.weighted_iou;
    c["gt_area"] = b.covering.gt_area;
    c["weighted_iou_normalized"] = b.covering.weighted_iou_normalized;
    c["gt_area_normalized"] = b.covering.gt_area_normalized;
    d["covering"] = c;
  }
  if (options.boundary) d["boundary"] = totals_to_python(b.boundary);
  return d;
}

CategoryTotals totals_from_python(const py::dict& d) {
  CategoryTotals t;
  t.tp = d["tp"].cast<std::vector<std::int64_t>>();
  t.fp = d["fp"].cast<std::vector<std::int64_t>>();
  t.fn = d["fn"].cast<std::vector<std::int64_t>>();
  t.iou = d["iou"].cast<std::vector<double>>();
  return t;
}

// The inverse of breakdown_to_python, for sums a pass continues; a missing part starts at zero.
BreakdownTotals breakdown_from_python(const std::optional<py::dict>& d) {
  BreakdownTotals b;
  if (!d) return b;
  if (d->contains("by_size"))
    for (const py::handle& t : (*d)["by_size"].cast<py::list>()) b.by_size.push_back(totals_from_python(t.cast<py::dict>()));
  if (d->contains("covering")) {
    const py::dict c = (*d)["covering"].cast<py::dict>();
    b.covering.weighted_iou = c["weighted_iou"].cast<std::vector<double>>();
    b.covering.gt_area = c["gt_area"].cast<std::vector<double>>();
    b.covering.weighted_iou_normalized = c["weighted_iou_normalized"].cast<std::vector<double>>();
    b.covering.gt_area_normalized = c["gt_area_normalized"].cast<std::vector<double>>();
  }
  if (d->contains("boundary")) b.boundary = totals_from_python((*d)["boundary"].cast<py::dict>());
  return b;
}

BreakdownOptions make_breakdown(bool by_size, bool covering, bool boundary, double boundary_dilation_ratio) {
  BreakdownOptions b;
  b.by_size = by_size;
  b.covering = covering;
  b.boundary = boundary;
  b.boundary_dilation_ratio = boundary_dilation_ratio;
  if (boundary) boundary_dilation(1, 1, boundary_dilation_ratio);  // refuses a bad ratio before any work
  return b;
}

// Per-image (gt category, pred category, pixels) entries as CSR numpy arrays.
py::dict category_pixels_to_python(const std::vector<std::vector<CategoryPixels>>& images) {
  std::size_t n = 0;
  for (const auto& im : images) n += im.size();
  py::array_t<std::int64_t> offsets(static_cast<py::ssize_t>(images.size() + 1));
  py::array_t<std::int32_t> rows(static_cast<py::ssize_t>(n)), cols(static_cast<py::ssize_t>(n));
  py::array_t<std::uint64_t> counts(static_cast<py::ssize_t>(n));
  std::int64_t* o = offsets.mutable_data();
  o[0] = 0;
  std::size_t k = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    for (const CategoryPixels& e : images[i]) {
      rows.mutable_data()[k] = e.gt;
      cols.mutable_data()[k] = e.pred;
      counts.mutable_data()[k] = e.count;
      ++k;
    }
    o[i + 1] = static_cast<std::int64_t>(k);
  }
  py::dict d;
  d["image_offsets"] = offsets;
  d["image_rows"] = rows;
  d["image_cols"] = cols;
  d["image_counts"] = counts;
  return d;
}

// Views of the PNG bytes of a list (bytes, or None for "read the file"); the list keeps them alive
// for the call. None or an empty list: every image is read from its file.
std::vector<PngBytes> png_bytes_of(const std::optional<py::list>& items, const char* what) {
  std::vector<PngBytes> out;
  if (!items) return out;
  out.reserve(items->size());
  for (const py::handle& item : *items) {
    PngBytes b;
    if (py::isinstance<py::bytes>(item)) {
      char* data = nullptr;
      Py_ssize_t size = 0;
      PyBytes_AsStringAndSize(item.ptr(), &data, &size);
      b.data = reinterpret_cast<const std::uint8_t*>(data);
      b.size = static_cast<std::size_t>(size);
    } else if (!item.is_none()) {
      throw UsageError(std::string(what) + " must hold bytes or None");
    }
    out.push_back(b);
  }
  return out;
}

py::dict evaluation_to_python(const PanopticEvaluation& r, bool keep_images, const BreakdownOptions& breakdown) {
  py::dict out;
  out["breakdown"] = breakdown.any() && r.failure.kind == ImageFailure::kNone
                         ? py::object(breakdown_to_python(r.breakdown, breakdown))
                         : py::none();
  out["tp"] = r.totals.tp;
  out["fp"] = r.totals.fp;
  out["fn"] = r.totals.fn;
  out["iou"] = r.totals.iou;
  out["failure"] = failure_to_python(r.failure);
  out["images"] = keep_images && r.failure.kind == ImageFailure::kNone ? py::object(image_rows_to_python(r.images)) : py::none();
  out["semantic"] = r.semantic.empty() ? py::object(py::none()) : py::object(category_pixels_to_python(r.semantic));
  return out;
}

}  // namespace

void register_panoptic(py::module_& m) {
  m.def(
      "evaluate_panoptic",
      [](std::vector<std::string> gt_files, std::vector<std::string> pred_files, Ids gt_offsets, Ids gt_ids,
         Categories gt_categories, std::vector<std::uint8_t> gt_iscrowd, std::vector<double> gt_areas,
         Ids pred_offsets, Ids pred_ids, Categories pred_categories, std::int32_t n_categories, int workers,
         std::uint64_t max_pixels, const std::string& inflate, bool keep_images, OptionalCounts initial_tp,
         OptionalCounts initial_fp, OptionalCounts initial_fn, OptionalSums initial_iou, bool by_size, bool covering,
         bool boundary, double boundary_dilation_ratio, const std::optional<py::dict>& initial_breakdown,
         bool semantic, const std::optional<py::list>& gt_data, const std::optional<py::list>& pred_data) {
        PanopticDataset d{std::move(gt_files), std::move(pred_files),
                          make_tables(std::move(gt_offsets), std::move(gt_ids), std::move(gt_categories),
                                      std::move(gt_iscrowd), std::move(gt_areas), std::move(pred_offsets),
                                      std::move(pred_ids), std::move(pred_categories), n_categories),
                          png_bytes_of(gt_data, "gt_data"), png_bytes_of(pred_data, "pred_data")};
        EngineOptions options = make_options(workers, max_pixels, inflate);
        options.breakdown = make_breakdown(by_size, covering, boundary, boundary_dilation_ratio);
        options.semantic = semantic;
        CategoryTotals initial = make_initial(static_cast<std::size_t>(n_categories), std::move(initial_tp),
                                              std::move(initial_fp), std::move(initial_fn), std::move(initial_iou));
        BreakdownTotals start = breakdown_from_python(initial_breakdown);
        PanopticEvaluation r;
        {
          py::gil_scoped_release release;
          r = evaluate_panoptic(d, options, keep_images, std::move(initial), std::move(start));
        }
        return evaluation_to_python(r, keep_images, options.breakdown);
      },
      py::arg("gt_files"), py::arg("pred_files"), py::arg("gt_offsets"), py::arg("gt_ids"), py::arg("gt_categories"),
      py::arg("gt_iscrowd"), py::arg("gt_areas"), py::arg("pred_offsets"), py::arg("pred_ids"),
      py::arg("pred_categories"), py::arg("n_categories"), py::arg("workers") = 0,
      py::arg("max_pixels") = kDefaultMaxPixels, py::arg("inflate") = "", py::arg("keep_images") = false,
      py::arg("initial_tp") = py::none(), py::arg("initial_fp") = py::none(), py::arg("initial_fn") = py::none(),
      py::arg("initial_iou") = py::none(), py::arg("by_size") = false, py::arg("covering") = false,
      py::arg("boundary") = false, py::arg("boundary_dilation_ratio") = 0.02, py::arg("initial_breakdown") = py::none(),
      py::arg("semantic") = false, py::arg("gt_data") = py::none(), py::arg("pred_data") = py::none());
  m.def(
      "evaluate_id_maps",
      [](const py::array& gt, const py::array& pred, Ids gt_offsets, Ids gt_ids, Categories gt_categories,
         std::vector<std::uint8_t> gt_iscrowd, std::vector<double> gt_areas, Ids pred_offsets, Ids pred_ids,
         Categories pred_categories, std::int32_t n_categories, int workers, bool keep_images,
         OptionalCounts initial_tp, OptionalCounts initial_fp, OptionalCounts initial_fn, OptionalSums initial_iou,
         bool by_size, bool covering, bool boundary, double boundary_dilation_ratio,
         const std::optional<py::dict>& initial_breakdown) {
        if (gt.ndim() != 3 || pred.ndim() != 3) throw UsageError("id maps must be arrays of shape (N, H, W)");
        for (int k = 0; k < 3; ++k)
          if (gt.shape(k) != pred.shape(k)) throw UsageError("ground-truth and prediction id maps differ in shape");
        IdMapBatch batch;
        batch.gt = id_map_view(gt);
        batch.pred = id_map_view(pred);
        batch.count = static_cast<std::size_t>(gt.shape(0));
        batch.height = static_cast<std::size_t>(gt.shape(1));
        batch.width = static_cast<std::size_t>(gt.shape(2));
        batch.gt_item_bytes = batch.height * batch.width * static_cast<std::size_t>(gt.itemsize());
        batch.pred_item_bytes = batch.height * batch.width * static_cast<std::size_t>(pred.itemsize());
        SegmentTables tables = make_tables(std::move(gt_offsets), std::move(gt_ids), std::move(gt_categories),
                                           std::move(gt_iscrowd), std::move(gt_areas), std::move(pred_offsets),
                                           std::move(pred_ids), std::move(pred_categories), n_categories);
        EngineOptions options = make_options(workers, kDefaultMaxPixels, "");
        options.breakdown = make_breakdown(by_size, covering, boundary, boundary_dilation_ratio);
        CategoryTotals initial = make_initial(static_cast<std::size_t>(n_categories), std::move(initial_tp),
                                              std::move(initial_fp), std::move(initial_fn), std::move(initial_iou));
        BreakdownTotals start = breakdown_from_python(initial_breakdown);
        PanopticEvaluation r;
        {
          py::gil_scoped_release release;
          r = evaluate_panoptic(batch, tables, options, keep_images, std::move(initial), std::move(start));
        }
        return evaluation_to_python(r, keep_images, options.breakdown);
      },
      py::arg("gt"), py::arg("pred"), py::arg("gt_offsets"), py::arg("gt_ids"), py::arg("gt_categories"),
      py::arg("gt_iscrowd"), py::arg("gt_areas"), py::arg("pred_offsets"), py::arg("pred_ids"),
      py::arg("pred_categories"), py::arg("n_categories"), py::arg("workers") = 0, py::arg("keep_images") = false,
      py::arg("initial_tp") = py::none(), py::arg("initial_fp") = py::none(), py::arg("initial_fn") = py::none(),
      py::arg("initial_iou") = py::none(), py::arg("by_size") = false, py::arg("covering") = false,
      py::arg("boundary") = false, py::arg("boundary_dilation_ratio") = 0.02, py::arg("initial_breakdown") = py::none(),
      "Scores (N, H, W) id maps (C-contiguous; uint8, uint16, uint32, int32, int64 or uint64).");
  m.def(
      "joint_histogram",
      [](const py::array_t<std::uint32_t, kInputArray>& gt,
         const py::array_t<std::uint32_t, kInputArray>& pred) {
        if (gt.ndim() != 2 || pred.ndim() != 2 || gt.shape(0) != pred.shape(0) || gt.shape(1) != pred.shape(1))
          throw UsageError("joint_histogram takes two id maps of the same shape (H, W)");
        JointHistogram hist;
        std::vector<HistEntry> entries;
        {
          py::gil_scoped_release release;
          build_joint_histogram(IdMapView{gt.data(), IdType::kU32}, IdMapView{pred.data(), IdType::kU32},
                                static_cast<std::size_t>(gt.shape(0)), static_cast<std::size_t>(gt.shape(1)), hist);
          hist.sorted_entries(entries);
        }
        py::array_t<std::uint32_t> gt_ids(static_cast<py::ssize_t>(entries.size()));
        py::array_t<std::uint32_t> pred_ids(static_cast<py::ssize_t>(entries.size()));
        py::array_t<std::uint64_t> counts(static_cast<py::ssize_t>(entries.size()));
        for (std::size_t i = 0; i < entries.size(); ++i) {
          gt_ids.mutable_data()[i] = entries[i].gt;
          pred_ids.mutable_data()[i] = entries[i].pred;
          counts.mutable_data()[i] = entries[i].count;
        }
        return py::make_tuple(gt_ids, pred_ids, counts);
      },
      py::arg("gt"), py::arg("pred"),
      "Pixel counts per (gt id, pred id) pair of two id maps, sorted by (gt id, pred id).");
  m.def(
      "boundary_band",
      [](const py::array_t<std::uint32_t, kInputArray>& ids, std::uint32_t dilation) {
        if (ids.ndim() != 2) throw UsageError("boundary_band takes an id map of shape (H, W)");
        const auto h = static_cast<std::uint32_t>(ids.shape(0)), w = static_cast<std::uint32_t>(ids.shape(1));
        py::array_t<std::uint8_t> out({static_cast<py::ssize_t>(h), static_cast<py::ssize_t>(w)});
        {
          py::gil_scoped_release release;
          boundary_band_mask(ids.data(), h, w, dilation, out.mutable_data());
        }
        return out;
      },
      py::arg("ids"), py::arg("dilation"),
      "1 where a pixel is within chessboard distance `dilation` of another id or the image edge, else 0.");
  m.def(
      "boundary_dilation",
      [](std::uint32_t height, std::uint32_t width, double ratio) { return boundary_dilation(height, width, ratio); },
      py::arg("height"), py::arg("width"), py::arg("ratio"),
      "The Boundary IoU API's band width max(1, round(ratio * image diagonal)), capped at max(height, width) "
      "(where every pixel is in its band already).");

  m.def(
      "match_image_pair",
      [](std::string gt_file, std::string pred_file, Ids gt_ids, Categories gt_categories,
         std::vector<std::uint8_t> gt_iscrowd, std::vector<double> gt_areas, Ids pred_ids, Categories pred_categories,
         std::int32_t n_categories, std::uint64_t max_pixels, const std::string& inflate) {
        const auto n_gt = static_cast<std::int64_t>(gt_ids.size()), n_pred = static_cast<std::int64_t>(pred_ids.size());
        PanopticDataset d{{std::move(gt_file)}, {std::move(pred_file)},
                          make_tables({0, n_gt}, std::move(gt_ids), std::move(gt_categories), std::move(gt_iscrowd),
                                      std::move(gt_areas), {0, n_pred}, std::move(pred_ids),
                                      std::move(pred_categories), n_categories)};
        EngineOptions options = make_options(1, max_pixels, inflate);
        ImagePairDecisions r;
        {
          py::gil_scoped_release release;
          r = match_image_pair(d, 0, options);
        }
        py::dict out;
        out["failure"] = failure_to_python(r.failure);
        auto codes = [](const std::vector<SegmentStatus>& v) {
          std::vector<int> c(v.size());
          for (std::size_t i = 0; i < v.size(); ++i) c[i] = static_cast<int>(v[i]);
          return c;
        };
        out["gt_status"] = codes(r.decisions.gt_status);
        out["gt_match"] = r.decisions.gt_match;
        out["gt_iou"] = r.decisions.gt_iou;
        out["pred_status"] = codes(r.decisions.pred_status);
        out["pred_match"] = r.decisions.pred_match;
        out["pred_iou"] = r.decisions.pred_iou;
        return out;
      },
      py::arg("gt_file"), py::arg("pred_file"), py::arg("gt_ids"), py::arg("gt_categories"), py::arg("gt_iscrowd"),
      py::arg("gt_areas"), py::arg("pred_ids"), py::arg("pred_categories"), py::arg("n_categories"),
      py::arg("max_pixels") = kDefaultMaxPixels, py::arg("inflate") = "",
      "Matches one PNG pair as evaluate_panoptic does; per segment (table order): status 0 matched, 1 unmatched "
      "(FN / FP), 2 ignored (crowd / void), the matched segment's table index (-1) and the match's IoU.");
}

}  // namespace fastpq
