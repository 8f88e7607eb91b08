// The module fastpq._core: build information, the exceptions, and each family's registration
// (register.hpp). Bindings translate between numpy / Python objects and the C++ core, nothing more.
#include <pybind11/pybind11.h>

#include "bindings/register.hpp"
#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "masks/masks.hpp"
#include "png/inflate.hpp"
#include "png/png_reader.hpp"
#include "png/png_rows.hpp"

namespace py = pybind11;
using namespace fastpq;

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

  register_panoptic(m);
  register_png(m);
  register_common(m);
  register_masks(m);
  register_amodal(m);
  register_combine(m);
  register_semantic(m);
  register_amodal_consistency(m);
  register_instance(m);
  register_tables(m);
}
