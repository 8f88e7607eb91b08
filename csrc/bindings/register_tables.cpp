// Reading COCO panoptic JSON straight into segment tables (panoptic/panoptic_json), for
// fastpq.io.panoptic_json: the lists of build_tables, or None when the files are not plain enough.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <system_error>
#include <thread>

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

}  // namespace

void register_tables(py::module_& m) {
  m.def("panoptic_json_tables", &tables, py::arg("gt_json"), py::arg("pred_json"), py::arg("max_segments"),
        "The segment tables of a ground-truth and a prediction COCO panoptic JSON text (bytes), or None when "
        "either is not plain enough for the fast reader (see panoptic/panoptic_json.hpp).");
}

}  // namespace fastpq
