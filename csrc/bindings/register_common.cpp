// Bindings of the shared helpers (csrc/common/): the JSON scan that runs before a JSON parser.
#include <pybind11/pybind11.h>

#include "bindings/register.hpp"
#include "common/json_scan.hpp"

namespace py = pybind11;

namespace fastpq {
namespace {

// scan_json over the bytes of `text`, without the GIL.
JsonScan scan_bytes(const py::bytes& text, std::size_t stop_above) {
  char* data = nullptr;
  Py_ssize_t size = 0;
  PyBytes_AsStringAndSize(text.ptr(), &data, &size);
  py::gil_scoped_release release;
  return scan_json(data, static_cast<std::size_t>(size), stop_above);
}

}  // namespace

void register_common(py::module_& m) {
  m.def(
      "json_nesting_depth",
      [](const py::bytes& text, std::size_t stop_above) { return scan_bytes(text, stop_above).depth; },
      py::arg("text"), py::arg("stop_above"),
      "The deepest nesting of arrays / objects in JSON text (strings skipped), or a value above "
      "stop_above as soon as it is passed.");
  m.def(
      "json_scan",
      [](const py::bytes& text, std::size_t stop_above) {
        const JsonScan scan = scan_bytes(text, stop_above);
        return py::make_tuple(scan.depth, scan.longest_digits);
      },
      py::arg("text"), py::arg("stop_above"),
      "(json_nesting_depth, the longest run of digits outside strings) in one pass over JSON text.");
}

}  // namespace fastpq
