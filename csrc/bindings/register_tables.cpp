// Reading COCO panoptic JSON straight into segment tables (panoptic/panoptic_json), for
// fastpq.io.panoptic_json: the lists of build_tables, or None when the files are not plain enough.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "bindings/register.hpp"
#include "common/parallel.hpp"
#include "panoptic/panoptic_json.hpp"

namespace py = pybind11;

namespace fastpq {
namespace {

py::str ascii(const char* text, JsonSpan s) { return py::str(text + s.begin, s.end - s.begin); }

py::object tables(const py::bytes& gt_json, const py::bytes& pred_json, std::size_t max_segments) {
  char* gt_text = nullptr;
  char* pred_text = nullptr;
  Py_ssize_t gt_size = 0, pred_size = 0;
  if (PyBytes_AsStringAndSize(gt_json.ptr(), &gt_text, &gt_size) != 0 ||
      PyBytes_AsStringAndSize(pred_json.ptr(), &pred_text, &pred_size) != 0)
    throw py::error_already_set();
  PanopticJson gt, pred;
  PanopticJsonTables t;
  bool ok = false;
  {
    py::gil_scoped_release release;
    // The two files on two threads when there are two cores. Running out of memory while parsing
    // gives up too (the Python reader then meets it, and says so); no exception leaves a thread.
    auto parse = [](const char* text, Py_ssize_t size, bool ground_truth, PanopticJson& out) {
      try {
        return parse_panoptic_json(text, static_cast<std::size_t>(size), ground_truth, out);
      } catch (...) {
        return false;
      }
    };
    bool pred_ok = false;
    std::thread other;
    if (resolve_workers(0) > 1) {
      try {
        other = std::thread([&] { pred_ok = parse(pred_text, pred_size, false, pred); });
      } catch (const std::system_error&) {  // no thread to be had: parse it here, after the other
      }
    }
    const bool gt_ok = parse(gt_text, gt_size, true, gt);
    if (other.joinable()) other.join();
    else pred_ok = parse(pred_text, pred_size, false, pred);
    ok = gt_ok && pred_ok && pair_panoptic_json(gt, gt_text, pred, pred_text, max_segments, t);
  }
  if (!ok) return py::none();
  const std::size_t n = t.gt_annotation.size();
  py::list image_ids(n), gt_names(n), pred_names(n), pred_objects(n);
  for (std::size_t i = 0; i < n; ++i) {
    const JsonAnnotation& a = gt.annotations[t.gt_annotation[i]];
    const JsonAnnotation& b = pred.annotations[t.pred_annotation[i]];
    image_ids[i] = a.image_id.is_string ? py::object(ascii(gt_text, a.image_id.text)) : py::int_(a.image_id.value);
    gt_names[i] = ascii(gt_text, a.file_name);
    pred_names[i] = ascii(pred_text, b.file_name);
    pred_objects[i] = py::make_tuple(b.object.begin, b.object.end);
  }
  py::dict d;
  d["image_ids"] = image_ids;
  d["gt_names"] = gt_names;
  d["pred_names"] = pred_names;
  d["pred_objects"] = pred_objects;
  d["categories"] = py::make_tuple(gt.categories.begin, gt.categories.end);
  d["gt_offsets"] = py::cast(t.gt_offsets);
  d["gt_ids"] = py::cast(t.gt_ids);
  d["gt_categories"] = py::cast(t.gt_categories);
  d["gt_iscrowd"] = py::cast(t.gt_iscrowd);
  d["gt_areas"] = py::cast(t.gt_areas);
  d["pred_offsets"] = py::cast(t.pred_offsets);
  d["pred_ids"] = py::cast(t.pred_ids);
  d["pred_categories"] = py::cast(t.pred_categories);
  return std::move(d);
}

// The columns TableBuilder would build from in-memory segments_info lists (one list per image),
// when every segment is a plain dict with an int `id` (no id twice in an image), a `category_id`
// (int or str) and, for the ground truth, an `iscrowd` (int, bool or float) and an int or float
// `area`; None otherwise, and then TableBuilder reads the lists and names what is wrong. The
// category lookup is Python's own dict lookup, so the columns equal TableBuilder's.
class SegmentLists {
 public:
  explicit SegmentLists(py::dict cat_index) : cat_index_(std::move(cat_index)) {}

  // Appends one image's segments; false when the Python builder must read them instead. Values
  // are read only when they are of built-in types (the rest is left to Python), and every object
  // is held while it is read.
  bool add(const py::object& segments, std::size_t max_segments, bool ground_truth) {
    if (!segments || !PyList_CheckExact(segments.ptr()) ||
        static_cast<std::size_t>(PyList_GET_SIZE(segments.ptr())) > max_segments)
      return false;
    Columns& c = ground_truth ? gt_ : pred_;
    const std::size_t first = c.ids.size();
    for (std::size_t k = 0; py::object el = at(segments, k); ++k) {
      if (!PyDict_CheckExact(el.ptr())) return false;
      std::int64_t id = 0;
      std::int32_t category = -1;
      if (!segment_id(el.ptr(), &id) || !category_index(el.ptr(), &category)) return false;
      c.ids.push_back(id);
      c.categories.push_back(category);
      if (ground_truth) {
        const py::object area = item(el.ptr(), key_area_), crowd = item(el.ptr(), key_iscrowd_);
        if (!crowd || !area) return false;
        double value = 0;
        if (PyFloat_CheckExact(area.ptr())) value = PyFloat_AS_DOUBLE(area.ptr());
        else if (PyLong_CheckExact(area.ptr())) value = PyLong_AsDouble(area.ptr());
        else return false;
        if (value == -1.0 && PyErr_Occurred()) return clear();
        c.areas.push_back(value);
        int is_one = 0;
        if (!equals_one(crowd.ptr(), &is_one)) return false;
        c.crowd.push_back(is_one ? 1 : 0);
      }
    }
    if (repeats_an_id(c.ids, first)) return false;
    c.offsets.push_back(static_cast<std::int64_t>(c.ids.size()));
    return true;
  }

  // Item k of a list, held, or a null object past its end.
  static py::object at(const py::object& list, std::size_t k) {
    if (k >= static_cast<std::size_t>(PyList_GET_SIZE(list.ptr()))) return py::object();
    return py::reinterpret_borrow<py::object>(PyList_GET_ITEM(list.ptr(), static_cast<Py_ssize_t>(k)));
  }

  py::tuple columns() const {
    return py::make_tuple(gt_.offsets, gt_.ids, gt_.categories, gt_.crowd, gt_.areas, pred_.offsets, pred_.ids,
                          pred_.categories);
  }

 private:
  struct Columns {
    std::vector<std::int64_t> offsets{0}, ids;
    std::vector<std::int32_t> categories;
    std::vector<std::uint8_t> crowd;
    std::vector<double> areas;
  };

  static bool clear() {
    PyErr_Clear();
    return false;
  }

  // el[key], held, or a null object (no error set) when the dict lacks it.
  static py::object item(PyObject* el, const py::str& key) {
    PyObject* v = PyDict_GetItemWithError(el, key.ptr());
    if (v == nullptr) PyErr_Clear();
    return py::reinterpret_borrow<py::object>(v);
  }

  // `v == 1` for an int, bool or float; false (no answer) for any other type, whose __eq__ is left
  // to Python.
  static bool equals_one(PyObject* v, int* is_one) {
    if (PyFloat_CheckExact(v)) {
      *is_one = PyFloat_AS_DOUBLE(v) == 1.0;
      return true;
    }
    if (!PyLong_CheckExact(v) && !PyBool_Check(v)) return false;
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (value == -1 && PyErr_Occurred()) return clear();
    *is_one = overflow == 0 && value == 1;
    return true;
  }

  // An exact int in -INT64_MAX..INT64_MAX, as TableBuilder accepts without its checked path.
  bool segment_id(PyObject* el, std::int64_t* id) const {
    const py::object v = item(el, key_id_);
    if (!v || !PyLong_CheckExact(v.ptr())) return false;
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow != 0 || value == INT64_MIN) return false;
    if (value == -1 && PyErr_Occurred()) return clear();
    *id = value;
    return true;
  }

  // cat_index.get(el["category_id"], -1), for an int or str category_id.
  bool category_index(PyObject* el, std::int32_t* index) const {
    const py::object v = item(el, key_category_);
    if (!v || !(PyLong_CheckExact(v.ptr()) || PyUnicode_CheckExact(v.ptr()))) return false;
    PyObject* found = PyDict_GetItemWithError(cat_index_.ptr(), v.ptr());
    if (found == nullptr) {
      if (PyErr_Occurred()) return clear();  // a category key's own __eq__ raised
      *index = -1;
      return true;
    }
    const long value = PyLong_Check(found) ? PyLong_AsLong(found) : -1;
    if (value < 0 || value > INT32_MAX) return clear();
    *index = static_cast<std::int32_t>(value);
    return true;
  }

  static bool repeats_an_id(const std::vector<std::int64_t>& ids, std::size_t first) {
    std::vector<std::int64_t> sorted(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
    std::sort(sorted.begin(), sorted.end());
    return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
  }

  py::dict cat_index_;
  py::str key_id_{"id"}, key_category_{"category_id"}, key_iscrowd_{"iscrowd"}, key_area_{"area"};
  Columns gt_, pred_;
};

py::object segment_lists(const py::list& gt_lists, const py::list& pred_lists, const py::dict& cat_index,
                         std::size_t max_segments) {
  if (gt_lists.size() != pred_lists.size()) return py::none();
  SegmentLists lists(cat_index);
  for (std::size_t i = 0; i < gt_lists.size(); ++i)
    if (!lists.add(SegmentLists::at(gt_lists, i), max_segments, true) ||
        !lists.add(SegmentLists::at(pred_lists, i), max_segments, false))
      return py::none();
  if (gt_lists.size() != pred_lists.size()) return py::none();
  return lists.columns();
}

}  // namespace

void register_tables(py::module_& m) {
  m.def("panoptic_json_tables", &tables, py::arg("gt_json"), py::arg("pred_json"), py::arg("max_segments"),
        "The segment tables of a ground-truth and a prediction COCO panoptic JSON text (bytes), or None when "
        "either is not plain enough for the fast reader (see panoptic/panoptic_json.hpp).");
  m.def("segment_lists", &segment_lists, py::arg("gt_lists"), py::arg("pred_lists"), py::arg("cat_index"),
        py::arg("max_segments"),
        "The segment-table columns of in-memory segments_info lists (gt offsets, ids, categories, iscrowd, "
        "areas, pred offsets, ids, categories), or None when a segment is not plain enough for this reader.");
}

}  // namespace fastpq
