// Python bindings: translation between numpy / Python objects and the C++ core, nothing more.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>

#include "common/errors.hpp"
#include "png/inflate.hpp"
#include "panoptic/joint_histogram.hpp"
#include "common/json_scan.hpp"
#include "amodal/amodal_engine.hpp"
#include "panoptic/combine.hpp"
#include "panoptic/panoptic_ids.hpp"
#include "masks/masks.hpp"
#include "panoptic/pq_engine.hpp"
#include "png/png_reader.hpp"
#include "png/png_rows.hpp"

namespace py = pybind11;
void register_instance(pybind11::module_& m);  // csrc/bindings/register_instance.cpp
using namespace fastpq;

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
py::dict image_rows(const std::vector<ImageMatches>& images) {
  std::vector<std::int64_t> image, tp, fp, fn;
  std::vector<std::int32_t> category;
  std::vector<double> iou;
  for (std::size_t i = 0; i < images.size(); ++i) {
    std::map<std::int32_t, std::size_t> row_of;
    auto row = [&](std::int32_t c) {
      auto it = row_of.find(c);
      if (it != row_of.end()) return it->second;
      image.push_back(static_cast<std::int64_t>(i));
      category.push_back(c);
      tp.push_back(0), fp.push_back(0), fn.push_back(0), iou.push_back(0.0);
      return row_of[c] = image.size() - 1;
    };
    for (const auto& m : images[i].matches) {
      std::size_t r = row(m.first);
      tp[r] += 1;
      iou[r] += m.second;
    }
    for (std::int32_t c : images[i].false_negatives)
      if (c >= 0) fn[row(c)] += 1;
    for (std::int32_t c : images[i].false_positives) fp[row(c)] += 1;
  }
  py::dict d;
  d["image"] = image;
  d["category"] = category;
  d["tp"] = tp;
  d["fp"] = fp;
  d["fn"] = fn;
  d["iou"] = iou;
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
  out["images"] = keep_images && r.failure.kind == ImageFailure::kNone ? py::object(image_rows(r.images)) : py::none();
  return out;
}

py::array_t<std::uint32_t> decode_ids(PanopticPngReader& reader) {
  py::array_t<std::uint32_t> ids({static_cast<py::ssize_t>(reader.height()), static_cast<py::ssize_t>(reader.width())});
  std::uint32_t* out = ids.mutable_data();
  {
    py::gil_scoped_release release;
    for (std::uint32_t y = 0; y < reader.height(); ++y) reader.next_row_ids(out + std::size_t{y} * reader.width());
  }
  return ids;
}

py::array_t<std::uint32_t> read_png_ids(const std::string& path, std::uint64_t max_pixels, const std::string& inflate) {
  PanopticPngReader reader(parse_inflate_backend(inflate));
  {
    py::gil_scoped_release release;
    reader.open_file(path, max_pixels);
  }
  return decode_ids(reader);
}

py::array_t<std::uint32_t> decode_png_ids(const py::bytes& data, const std::string& name, std::uint64_t max_pixels,
                                          const std::string& inflate) {
  PanopticPngReader reader(parse_inflate_backend(inflate));
  std::string_view view = data;
  reader.open_memory(reinterpret_cast<const std::uint8_t*>(view.data()), view.size(), name, max_pixels);
  return decode_ids(reader);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastpq's C++ core: PNG decoding, joint histograms and panoptic matching";
  static py::exception<FormatError> format_error(m, "FormatError", PyExc_ValueError);
  static py::exception<MaskError> mask_error(m, "MaskError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const FormatError& e) {
      PyErr_SetString(format_error.ptr(), e.what());
    } catch (const MaskError& e) {
      PyErr_SetString(mask_error.ptr(), e.what());
    }
  });

  m.def("build_info", [] {
    py::dict d;
    d["version"] = FASTPQ_VERSION;
    d["inflate"] = default_inflate_backend_name();
    d["libdeflate"] = have_libdeflate();
#ifdef FASTPQ_HAVE_OPENMP
    d["parallel"] = "openmp";
#else
    d["parallel"] = "threads";
#endif
    d["default_workers"] = resolve_workers(0);
    d["simd"] = row_kernels().name;
    d["compiler"] = __VERSION__;
    return d;
  });
  m.def(
      "evaluate_panoptic",
      [](std::vector<std::string> gt_files, std::vector<std::string> pred_files, Ids gt_offsets, Ids gt_ids,
         Categories gt_categories, std::vector<std::uint8_t> gt_iscrowd, std::vector<double> gt_areas,
         Ids pred_offsets, Ids pred_ids, Categories pred_categories, std::int32_t n_categories, int workers,
         std::uint64_t max_pixels, const std::string& inflate, bool keep_images, OptionalCounts initial_tp,
         OptionalCounts initial_fp, OptionalCounts initial_fn, OptionalSums initial_iou, bool by_size, bool covering,
         bool boundary, double boundary_dilation_ratio, const std::optional<py::dict>& initial_breakdown) {
        PanopticDataset d{std::move(gt_files), std::move(pred_files),
                          make_tables(std::move(gt_offsets), std::move(gt_ids), std::move(gt_categories),
                                      std::move(gt_iscrowd), std::move(gt_areas), std::move(pred_offsets),
                                      std::move(pred_ids), std::move(pred_categories), n_categories)};
        EngineOptions options = make_options(workers, max_pixels, inflate);
        options.breakdown = make_breakdown(by_size, covering, boundary, boundary_dilation_ratio);
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
      py::arg("boundary") = false, py::arg("boundary_dilation_ratio") = 0.02, py::arg("initial_breakdown") = py::none());
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
      [](const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& gt,
         const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& pred) {
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
      [](const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& ids, std::uint32_t dilation) {
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
  m.def("read_png_ids", &read_png_ids, py::arg("path"), py::arg("max_pixels") = kDefaultMaxPixels,
        py::arg("inflate") = "");
  m.def("decode_png_ids", &decode_png_ids, py::arg("data"), py::arg("name") = "<memory>",
        py::arg("max_pixels") = kDefaultMaxPixels, py::arg("inflate") = "");
  m.attr("DEFAULT_MAX_PIXELS") = kDefaultMaxPixels;
  m.def(
      "json_nesting_depth",
      [](const py::bytes& text, std::size_t stop_above) {
        char* data = nullptr;
        Py_ssize_t size = 0;
        PyBytes_AsStringAndSize(text.ptr(), &data, &size);
        py::gil_scoped_release release;
        return json_nesting_depth(data, static_cast<std::size_t>(size), stop_above);
      },
      py::arg("text"), py::arg("stop_above"),
      "The deepest nesting of arrays / objects in JSON text (strings skipped), or a value above "
      "stop_above as soon as it is passed.");

  // ---- segment decisions ----
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
  // ---- end segment decisions ----

  // ---- masks ----
  // COCO RLE masks (csrc/masks.hpp), bit-identical to pycocotools' mask API. An RLE argument is a
  // compressed string (str or bytes) or uncompressed counts (a sequence of ints); counts come back
  // as lists of ints.
  {
    static const auto dimension = [](std::int64_t v, const char* what) {
      if (v < 0 || v > 0xffffffffLL)
        throw MaskError(std::string("mask ") + what + " " + std::to_string(v) + " is out of range");
      return static_cast<std::uint32_t>(v);
    };
    static const auto counts_of = [](py::handle obj) {
      std::vector<std::int64_t> values;
      try {
        values = obj.cast<std::vector<std::int64_t>>();
      } catch (const py::cast_error&) {
        throw py::type_error("an RLE is a compressed string (str or bytes) or a sequence of int counts");
      }
      std::vector<std::uint32_t> counts;
      counts.reserve(values.size());
      for (std::int64_t c : values) {
        if (c < 0 || c > 0xffffffffLL) throw MaskError("RLE run length " + std::to_string(c) + " is out of range");
        counts.push_back(static_cast<std::uint32_t>(c));
      }
      return counts;
    };
    static const auto rle_of = [](py::handle obj, std::int64_t h, std::int64_t w) {
      std::uint32_t uh = dimension(h, "height"), uw = dimension(w, "width");
      if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj))
        return rle_from_string(obj.cast<std::string>(), uh, uw);
      return rle_from_counts(uh, uw, counts_of(obj));
    };
    // (h, w, rle) or a COCO dict {"size": [h, w], "counts": rle}.
    static const auto sized_rles = [](const py::sequence& objs) {
      std::vector<Rle> rles;
      rles.reserve(objs.size());
      for (py::handle obj : objs) {
        if (py::isinstance<py::dict>(obj)) {
          py::sequence size = obj["size"];
          if (size.size() != 2) throw MaskError("an RLE's size is [height, width]");
          rles.push_back(rle_of(obj["counts"], size[0].cast<std::int64_t>(), size[1].cast<std::int64_t>()));
        } else {
          py::sequence t = py::reinterpret_borrow<py::sequence>(obj);
          if (t.size() != 3) throw MaskError("an RLE is given as (height, width, counts)");
          rles.push_back(rle_of(t[2], t[0].cast<std::int64_t>(), t[1].cast<std::int64_t>()));
        }
      }
      return rles;
    };
    m.def(
        "rle_from_string", [](py::object s, std::int64_t h, std::int64_t w) { return rle_of(s, h, w).counts; },
        py::arg("s"), py::arg("h"), py::arg("w"), "Counts of a compressed COCO RLE string (str or bytes), checked.");
    m.def(
        "rle_to_string", [](py::object counts) { return rle_to_string(counts_of(counts)); }, py::arg("counts"),
        "The compressed COCO RLE string of counts.");
    m.def(
        "rle_from_polygons",
        [](const std::vector<std::vector<double>>& polygons, std::int64_t h, std::int64_t w) {
          std::uint32_t uh = dimension(h, "height"), uw = dimension(w, "width");
          py::gil_scoped_release release;
          return rle_from_polygons(polygons, uh, uw).counts;
        },
        py::arg("polygons"), py::arg("h"), py::arg("w"),
        "Counts of the union of polygons [x0, y0, x1, y1, ...], as pycocotools' annToRLE.");
    m.def(
        "rle_from_bbox",
        [](const std::array<double, 4>& bbox, std::int64_t h, std::int64_t w) {
          return rle_from_bbox(bbox, dimension(h, "height"), dimension(w, "width")).counts;
        },
        py::arg("bbox"), py::arg("h"), py::arg("w"), "Counts of a box [x, y, width, height], as pycocotools' frBbox.");
    m.def(
        "rle_merge",
        [](const py::sequence& rles, std::int64_t h, std::int64_t w, bool intersect) {
          std::vector<Rle> parts;
          for (py::handle r : rles) parts.push_back(rle_of(r, h, w));
          return rle_merge(parts, intersect).counts;
        },
        py::arg("rles"), py::arg("h"), py::arg("w"), py::arg("intersect") = false,
        "Counts of the union (or intersection) of RLEs of one size, as pycocotools' merge.");
    m.def(
        "rle_area", [](py::object rle, std::int64_t h, std::int64_t w) { return rle_area(rle_of(rle, h, w)); },
        py::arg("rle"), py::arg("h"), py::arg("w"), "Foreground pixels of an RLE.");
    m.def(
        "rle_bbox", [](py::object rle, std::int64_t h, std::int64_t w) { return rle_to_bbox(rle_of(rle, h, w)); },
        py::arg("rle"), py::arg("h"), py::arg("w"), "[x, y, width, height] as pycocotools' toBbox.");
    m.def(
        "rle_iou",
        [](const py::sequence& dt, const py::sequence& gt, const std::vector<bool>& iscrowd) {
          std::vector<Rle> d = sized_rles(dt), g = sized_rles(gt);
          if (iscrowd.size() != g.size())
            throw MaskError("iscrowd has " + std::to_string(iscrowd.size()) + " entries for " +
                            std::to_string(g.size()) + " ground-truth masks");
          py::array_t<double> out({static_cast<py::ssize_t>(d.size()), static_cast<py::ssize_t>(g.size())});
          double* data = out.mutable_data();
          {
            py::gil_scoped_release release;
            rle_iou(d, g, iscrowd, data);
          }
          return out;
        },
        py::arg("dt"), py::arg("gt"), py::arg("iscrowd"),
        "IoU matrix (len(dt), len(gt)) as pycocotools' iou; each RLE is (h, w, rle) or {'size', 'counts'}.");
    m.def(
        "rle_encode",
        [](const py::array_t<std::uint8_t, py::array::forcecast>& mask) {
          if (mask.ndim() != 2) throw MaskError("rle_encode takes a 2-D (h, w) mask");
          return rle_encode(mask.data(), dimension(mask.shape(0), "height"), dimension(mask.shape(1), "width"),
                            mask.strides(0), mask.strides(1))
              .counts;
        },
        py::arg("mask"), "Counts of a binary (h, w) mask of 0s and 1s.");
    m.def(
        "rle_decode",
        [](py::object rle, std::int64_t h, std::int64_t w) {
          Rle r = rle_of(rle, h, w);
          py::array_t<std::uint8_t> out({static_cast<py::ssize_t>(r.h), static_cast<py::ssize_t>(r.w)});
          rle_decode(r, out.mutable_data());
          return out;
        },
        py::arg("rle"), py::arg("h"), py::arg("w"), "The (h, w) uint8 mask of an RLE.");
  }
  // ---- end masks ----

  // ---- amodal ----
  m.def(
      "amodal_evaluate",
      [](const py::list& images, std::vector<double> thresholds, int workers, bool keep_images) {
        // Each image: (height, width, region masks, region is_stuff, region occlusion,
        // proposal masks, proposal scores); a mask is a compressed RLE string or polygons.
        auto mask_of = [](const py::handle& h) {
          MaskSource m;
          if (py::isinstance<py::str>(h)) m.rle = h.cast<std::string>();
          else m.polygons = h.cast<std::vector<std::vector<double>>>();
          return m;
        };
        std::vector<AmodalImageInput> inputs;
        inputs.reserve(images.size());
        for (const py::handle& item : images) {
          py::tuple t = item.cast<py::tuple>();
          AmodalImageInput in;
          in.height = t[0].cast<std::uint32_t>();
          in.width = t[1].cast<std::uint32_t>();
          for (const py::handle& h : t[2].cast<py::list>()) in.regions.push_back(mask_of(h));
          auto is_stuff = t[3].cast<std::vector<bool>>();
          auto occlusion = t[4].cast<std::vector<double>>();
          if (is_stuff.size() != occlusion.size()) throw UsageError("region attributes differ in number");
          for (std::size_t r = 0; r < is_stuff.size(); ++r) in.region_info.push_back({is_stuff[r], occlusion[r]});
          for (const py::handle& h : t[5].cast<py::list>()) in.proposals.push_back(mask_of(h));
          in.scores = t[6].cast<std::vector<double>>();
          inputs.push_back(std::move(in));
        }
        AmodalEvaluation r;
        {
          py::gil_scoped_release release;
          r = evaluate_amodal(inputs, thresholds, workers, keep_images);
        }
        py::dict out;
        out["matched"] = r.counts.matched;
        out["regions"] = r.counts.regions;
        py::list per_image;
        for (const AmodalCounts& c : r.images) per_image.append(py::make_tuple(c.matched, c.regions));
        out["images"] = per_image;
        out["failure"] = r.failed_image < 0 ? py::object(py::none())
                                            : py::object(py::make_tuple(r.failed_image, r.failure));
        return out;
      },
      py::arg("images"), py::arg("thresholds"), py::arg("workers") = 0, py::arg("keep_images") = false,
      "COCOA matching counts over images: matched[setting][threshold][k] and regions[setting].");
  // ---- end amodal ----

  // ---- combine ----
  // The combination heuristic and segment ids (csrc/combine.hpp, csrc/panoptic_ids.hpp).
  {
    static const auto category_table = [](std::vector<std::int32_t> ids, std::vector<std::uint8_t> isthing,
                                           std::vector<std::array<std::uint8_t, 3>> colors) {
      if (isthing.size() != ids.size() || colors.size() != ids.size())
        throw UsageError("category ids, isthing and colors differ in length");
      return CategoryTable{std::move(ids), std::move(isthing), std::move(colors)};
    };
    static const auto stats_columns = [](const std::vector<SegmentStats>& stats) {
      std::vector<std::uint32_t> ids;
      std::vector<std::uint64_t> areas;
      std::vector<std::array<std::uint32_t, 4>> boxes;
      for (const auto& s : stats) ids.push_back(s.id), areas.push_back(s.area), boxes.push_back(s.bbox);
      return py::make_tuple(ids, areas, boxes);
    };
    m.def(
        "combine_panoptic",
        [](const py::list& images, std::vector<std::int32_t> category_ids, std::vector<std::uint8_t> isthing,
           std::vector<std::array<std::uint8_t, 3>> colors, double confidence_thr, double overlap_thr,
           double stuff_area_limit, std::optional<std::int64_t> void_value, int workers) {
          const CategoryTable categories = category_table(std::move(category_ids), std::move(isthing), std::move(colors));
          CombineOptions options;
          options.confidence_thr = confidence_thr;
          options.overlap_thr = overlap_thr;
          options.stuff_area_limit = stuff_area_limit;
          options.has_void = void_value.has_value();
          options.void_value = void_value.value_or(0);
          options.workers = workers;
          std::vector<CombineImage> inputs;
          std::vector<py::array> keep;  // semantic maps and outputs stay alive while the core runs
          py::list outputs;
          for (const py::handle& item : images) {
            // (height, width, semantic map or None, masks, scores, category indices); a mask is
            // (h, w, compressed string or counts).
            py::tuple t = item.cast<py::tuple>();
            CombineImage in;
            in.height = t[0].cast<std::uint32_t>();
            in.width = t[1].cast<std::uint32_t>();
            if (!t[2].is_none()) {
              py::array sem = py::reinterpret_borrow<py::array>(t[2]);
              if (sem.ndim() != 2 || !(sem.flags() & py::array::c_style) ||
                  static_cast<std::uint64_t>(sem.shape(0)) != in.height || static_cast<std::uint64_t>(sem.shape(1)) != in.width)
                throw UsageError("a semantic map must be a C-contiguous (height, width) array");
              const char kind = sem.dtype().kind();
              const auto size = sem.dtype().itemsize();
              if (kind == 'u' && size == 1) in.semantic.type = SemanticType::kU8;
              else if (kind == 'u' && size == 2) in.semantic.type = SemanticType::kU16;
              else if (kind == 'i' && size == 4) in.semantic.type = SemanticType::kI32;
              else throw UsageError("semantic maps must be uint8, uint16 or int32 arrays");
              in.semantic.data = sem.data();
              keep.push_back(sem);
            }
            auto scores = t[4].cast<std::vector<double>>();
            auto cats = t[5].cast<std::vector<std::size_t>>();
            py::list masks = t[3].cast<py::list>();
            if (scores.size() != masks.size() || cats.size() != masks.size())
              throw UsageError("masks, scores and categories differ in number");
            for (std::size_t k = 0; k < masks.size(); ++k) {
              py::tuple mt = masks[k].cast<py::tuple>();
              CombineInstance inst;
              inst.mask.h = mt[0].cast<std::uint32_t>();
              inst.mask.w = mt[1].cast<std::uint32_t>();
              if (py::isinstance<py::str>(mt[2]) || py::isinstance<py::bytes>(mt[2])) {
                inst.compressed = mt[2].cast<std::string>();
                if (inst.compressed.empty()) inst.mask = rle_from_counts(inst.mask.h, inst.mask.w, {});
              } else {
                inst.mask = rle_from_counts(inst.mask.h, inst.mask.w, mt[2].cast<std::vector<std::uint32_t>>());
              }
              inst.score = scores[k];
              inst.category = cats[k];
              in.instances.push_back(std::move(inst));
            }
            py::array_t<std::uint32_t> out({static_cast<py::ssize_t>(in.height), static_cast<py::ssize_t>(in.width)});
            in.out = out.mutable_data();
            outputs.append(out);
            inputs.push_back(std::move(in));
          }
          CombineResult r;
          {
            py::gil_scoped_release release;
            r = combine_panoptic(inputs, categories, options);
          }
          py::list segments;
          for (const auto& segs : r.segments) {
            std::vector<std::uint32_t> ids;
            std::vector<std::size_t> cats;
            std::vector<std::uint64_t> areas;
            std::vector<std::array<std::uint32_t, 4>> boxes;
            for (const auto& s : segs) ids.push_back(s.id), cats.push_back(s.category), areas.push_back(s.area), boxes.push_back(s.bbox);
            segments.append(py::make_tuple(ids, cats, areas, boxes));
          }
          py::dict d;
          d["ids"] = outputs;
          d["segments"] = segments;
          d["failure"] = r.failed_image < 0 ? py::object(py::none()) : py::object(py::make_tuple(r.failed_image, r.failure));
          return d;
        },
        py::arg("images"), py::arg("category_ids"), py::arg("isthing"), py::arg("colors"), py::arg("confidence_thr"),
        py::arg("overlap_thr"), py::arg("stuff_area_limit"), py::arg("void_value"), py::arg("workers") = 0,
        "panopticapi's combination of instance masks and semantic maps, per image in parallel.");
    m.def(
        "assign_segment_ids",
        [](const std::vector<std::size_t>& segment_categories, std::vector<std::int32_t> category_ids,
           std::vector<std::uint8_t> isthing, std::vector<std::array<std::uint8_t, 3>> colors) {
          const CategoryTable categories = category_table(std::move(category_ids), std::move(isthing), std::move(colors));
          SegmentIdGenerator gen(categories);
          std::vector<std::uint32_t> ids;
          for (std::size_t c : segment_categories) {
            if (c >= categories.size()) throw UsageError("segment category index out of range");
            ids.push_back(gen.next(c));
          }
          return ids;
        },
        py::arg("segment_categories"), py::arg("category_ids"), py::arg("isthing"), py::arg("colors"),
        "Ids for one image's new segments (category indices, in order), as combine_panoptic chooses them.");
    m.def(
        "segment_stats",
        [](const py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>& ids) {
          if (ids.ndim() != 2) throw UsageError("segment_stats takes a 2-D (height, width) id map");
          std::vector<SegmentStats> stats;
          {
            py::gil_scoped_release release;
            stats = segment_stats(ids.data(), static_cast<std::uint32_t>(ids.shape(0)), static_cast<std::uint32_t>(ids.shape(1)));
          }
          return stats_columns(stats);
        },
        py::arg("ids"), "(ids ascending, areas, [x, y, width, height] boxes) of the non-zero segments of an id map.");
  }
  // ---- end combine ----
  register_instance(m);
}
