// Python bindings of the semantic family: label-map sources in, numpy counts out.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings/register.hpp"
#include "common/errors.hpp"
#include "png/label_png.hpp"
#include "semantic/class_counts.hpp"
#include "semantic/confusion.hpp"

namespace py = pybind11;

namespace fastpq {
namespace {

LabelSource::Type array_type(const py::array& a) {
  const char kind = a.dtype().kind();
  const auto size = a.itemsize();
  if (kind == 'u') {
    if (size == 1) return LabelSource::kU8;
    if (size == 2) return LabelSource::kU16;
    if (size == 4) return LabelSource::kU32;
    if (size == 8) return LabelSource::kU64;
  } else if (kind == 'i') {
    if (size == 1) return LabelSource::kI8;
    if (size == 2) return LabelSource::kI16;
    if (size == 4) return LabelSource::kI32;
    if (size == 8) return LabelSource::kI64;
  }
  throw UsageError("label maps must be integer arrays (uint8..uint64, int8..int64), not dtype kind '" +
                   std::string(1, kind) + "'");
}

std::vector<LabelSource> to_sources(const py::list& items, const char* what) {
  std::vector<LabelSource> out;
  out.reserve(items.size());
  std::size_t i = 0;
  for (const py::handle& item : items) {
    LabelSource s;
    if (py::isinstance<py::str>(item)) {
      s.kind = LabelSource::kFile;
      s.name = item.cast<std::string>();
    } else if (py::isinstance<py::bytes>(item)) {
      char* data = nullptr;
      Py_ssize_t size = 0;
      PyBytes_AsStringAndSize(item.ptr(), &data, &size);
      s.kind = LabelSource::kMemory;
      s.data = reinterpret_cast<const std::uint8_t*>(data);
      s.size = static_cast<std::size_t>(size);
      s.name = "<" + std::string(what) + " #" + std::to_string(i) + " in memory>";
    } else if (py::isinstance<py::array>(item)) {
      py::array a = py::reinterpret_borrow<py::array>(item);
      if (a.ndim() != 2) throw UsageError(std::string(what) + " #" + std::to_string(i) + ": arrays must be (H, W)");
      if (!(a.flags() & py::array::c_style))
        throw UsageError(std::string(what) + " #" + std::to_string(i) + ": arrays must be C-contiguous");
      if (misaligned(a))
        throw UsageError(std::string(what) + " #" + std::to_string(i) + ": arrays must be aligned");
      if (byte_swapped(a))
        throw UsageError(std::string(what) + " #" + std::to_string(i) + ": arrays must be in native byte order");
      s.kind = LabelSource::kArray;
      s.type = array_type(a);
      s.data = static_cast<const std::uint8_t*>(a.data());
      s.height = static_cast<std::size_t>(a.shape(0));
      s.width = static_cast<std::size_t>(a.shape(1));
      s.name = "<" + std::string(what) + " array #" + std::to_string(i) + ">";
    } else {
      throw UsageError(std::string(what) + " #" + std::to_string(i) + ": a path (str), PNG bytes or a 2-D integer "
                       "array is needed");
    }
    out.push_back(std::move(s));
    ++i;
  }
  return out;
}

LabelTable to_table(const py::array_t<std::int32_t, kInputArray>& lut, std::int32_t other,
                    const std::vector<std::int64_t>& skipped = {}) {
  LabelTable t;
  t.lut.assign(lut.data(), lut.data() + lut.size());
  t.skipped = skipped;
  t.other = other;
  return t;
}

template <typename T>
py::array_t<T> image_label_array(LabelPngReader& reader) {
  const std::uint32_t h = reader.height(), w = reader.width();
  py::array_t<T> out({static_cast<py::ssize_t>(h), static_cast<py::ssize_t>(w)});
  T* data = out.mutable_data();
  {
    py::gil_scoped_release release;
    read_label_image(reader, data);
  }
  return out;
}

py::array label_array(LabelPngReader& reader) {
  if (reader.label_bytes() == 1) return image_label_array<std::uint8_t>(reader);
  if (reader.label_bytes() == 2) return image_label_array<std::uint16_t>(reader);
  return image_label_array<std::uint32_t>(reader);
}

// Every image's entries as three int64 columns (row or instance value, column, count), the type
// the Python state keeps, so that it takes the arrays without a copy; filled in one pass.
void columns(const std::vector<SemanticImage>& images, bool instances, py::dict& d, const char* rows_key,
             const char* cols_key, const char* counts_key) {
  std::size_t n = 0;
  for (const SemanticImage& im : images) n += (instances ? im.instances : im.confusion).size();
  py::array_t<std::int64_t> rows(static_cast<py::ssize_t>(n)), cols(static_cast<py::ssize_t>(n)),
      counts(static_cast<py::ssize_t>(n));
  std::int64_t *r = rows.mutable_data(), *c = cols.mutable_data(), *k = counts.mutable_data();
  {
    py::gil_scoped_release release;
    for (const SemanticImage& im : images)
      for (const SparseCount& e : instances ? im.instances : im.confusion) {
        *r++ = e.row;
        *c++ = e.col;
        *k++ = static_cast<std::int64_t>(e.count);
      }
  }
  d[rows_key] = rows;
  d[cols_key] = cols;
  d[counts_key] = counts;
}

py::array_t<std::int64_t> offsets(const std::vector<SemanticImage>& images, bool instances) {
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(images.size() + 1));
  std::int64_t* data = out.mutable_data();
  data[0] = 0;
  for (std::size_t i = 0; i < images.size(); ++i)
    data[i + 1] = data[i] + static_cast<std::int64_t>((instances ? images[i].instances : images[i].confusion).size());
  return out;
}

}  // namespace

void register_semantic(py::module_& m) {
  m.def(
      "semantic_confusion",
      [](const py::list& gt, const py::list& pred, const std::optional<py::list>& instances,
         const py::array_t<std::int32_t, kInputArray>& gt_lut,
         const py::array_t<std::int32_t, kInputArray>& pred_lut, std::int32_t gt_other,
         std::int32_t pred_other, std::int32_t n_rows, std::int32_t n_cols, std::int64_t instance_min,
         bool per_image, int workers, std::uint64_t max_pixels, const std::string& inflate,
         const std::vector<std::int64_t>& gt_skipped) {
        std::vector<LabelSource> g = to_sources(gt, "ground truth"), p = to_sources(pred, "prediction");
        std::vector<LabelSource> inst;
        if (instances) inst = to_sources(*instances, "instances");
        LabelTable gt_t = to_table(gt_lut, gt_other, gt_skipped), pred_t = to_table(pred_lut, pred_other);
        SemanticOptions o;
        o.n_rows = n_rows;
        o.n_cols = n_cols;
        o.instance_min = instance_min;
        o.workers = workers;
        o.max_pixels = max_pixels;
        o.inflate = parse_inflate_backend(inflate);
        SemanticResult r;
        {
          py::gil_scoped_release release;
          r = semantic_confusion(g, p, instances ? &inst : nullptr, gt_t, pred_t, o);
        }
        py::dict d;
        py::array_t<std::uint64_t> confusion({static_cast<py::ssize_t>(n_rows), static_cast<py::ssize_t>(n_cols)});
        std::copy(r.confusion.begin(), r.confusion.end(), confusion.mutable_data());
        d["confusion"] = confusion;
        d["pixels"] = r.pixels;
        py::list sizes;
        for (const SemanticImage& im : r.images) sizes.append(py::make_tuple(im.height, im.width));
        d["sizes"] = sizes;
        if (per_image) {
          d["image_offsets"] = offsets(r.images, false);
          columns(r.images, false, d, "image_rows", "image_cols", "image_counts");
        }
        if (instances) {
          d["instance_offsets"] = offsets(r.images, true);
          columns(r.images, true, d, "instance_ids", "instance_cols", "instance_counts");
        }
        return d;
      },
      py::arg("gt"), py::arg("pred"), py::arg("instances"), py::arg("gt_lut"), py::arg("pred_lut"),
      py::arg("gt_other"), py::arg("pred_other"), py::arg("n_rows"), py::arg("n_cols"), py::arg("instance_min") = 1000,
      py::arg("per_image") = false, py::arg("workers") = 0, py::arg("max_pixels") = kDefaultMaxPixels,
      py::arg("inflate") = "", py::arg("gt_skipped") = std::vector<std::int64_t>{},
      "One pass over label-map pairs (paths, PNG bytes or 2-D integer arrays): the confusion matrix of the "
      "lookup-table codes (>= 0 index, -1 skip, -2 refuse), per image on request, and per-instance counts. "
      "gt_skipped: ground-truth values outside the table that are skipped rather than given gt_other's code.");
  using I64Array = py::array_t<std::int64_t, kInputArray>;
  m.def(
      "per_image_class_counts",
      [](const I64Array& offsets, const I64Array& rows, const I64Array& cols, const I64Array& counts,
         const I64Array& row_class, const I64Array& col_class, std::size_t k,
         const std::optional<py::array_t<bool, kInputArray>>& counted_rows) {
        for (const I64Array* a : {&offsets, &rows, &cols, &counts, &row_class, &col_class})
          if (a->ndim() != 1) throw UsageError("per_image_class_counts takes 1-D arrays");
        if (offsets.size() < 1) throw UsageError("confusion entry offsets need at least one value");
        if (cols.size() != rows.size() || counts.size() != rows.size())
          throw UsageError("confusion entry rows, columns and counts differ in length");
        if (counted_rows && (counted_rows->ndim() != 1 || counted_rows->size() != row_class.size()))
          throw UsageError("counted_rows needs one flag per row");
        ConfusionEntries e;
        e.offsets = offsets.data();
        e.n_images = static_cast<std::size_t>(offsets.size() - 1);
        e.rows = rows.data();
        e.cols = cols.data();
        e.counts = counts.data();
        e.n_entries = static_cast<std::size_t>(rows.size());
        ClassMap m;
        m.row_class = row_class.data();
        m.n_rows = static_cast<std::size_t>(row_class.size());
        m.col_class = col_class.data();
        m.n_cols = static_cast<std::size_t>(col_class.size());
        m.counted_rows = counted_rows ? reinterpret_cast<const std::uint8_t*>(counted_rows->data()) : nullptr;
        m.k = k;
        const auto shape = std::vector<py::ssize_t>{static_cast<py::ssize_t>(e.n_images), static_cast<py::ssize_t>(k)};
        py::array_t<std::int64_t> tp(shape), gt(shape), pred(shape);
        std::int64_t *t = tp.mutable_data(), *g = gt.mutable_data(), *p = pred.mutable_data();
        {
          py::gil_scoped_release release;
          per_image_class_counts(e, m, t, g, p);
        }
        return py::make_tuple(tp, gt, pred);
      },
      py::arg("offsets"), py::arg("rows"), py::arg("cols"), py::arg("counts"), py::arg("row_class"),
      py::arg("col_class"), py::arg("k"), py::arg("counted_rows") = py::none(),
      "Per image and scored class (row_class / col_class give each row's and column's class, k: none): "
      "(tp, gt, pred) pixel counts, each (n_images, k) int64, from per-image confusion entries.");
  m.def(
      "read_label_png",
      [](const std::string& path, std::uint64_t max_pixels, const std::string& inflate) {
        LabelPngReader reader(parse_inflate_backend(inflate));
        {
          py::gil_scoped_release release;
          reader.open_file(path, max_pixels);
        }
        return label_array(reader);
      },
      py::arg("path"), py::arg("max_pixels") = kDefaultMaxPixels, py::arg("inflate") = "",
      "A label-map PNG as an (H, W) array: uint8 (grey <= 8 bits, palette), uint16 (16-bit grey) or uint32 (RGB).");
  m.def(
      "decode_label_png",
      [](const py::bytes& data, const std::string& name, std::uint64_t max_pixels, const std::string& inflate) {
        LabelPngReader reader(parse_inflate_backend(inflate));
        std::string_view view = data;
        reader.open_memory(reinterpret_cast<const std::uint8_t*>(view.data()), view.size(), name, max_pixels);
        return label_array(reader);
      },
      py::arg("data"), py::arg("name") = "<memory>", py::arg("max_pixels") = kDefaultMaxPixels,
      py::arg("inflate") = "", "The same as read_label_png for PNG bytes.");
}

}  // namespace fastpq
