// One registration function per family, each in its own register_<family>.cpp, called from
// module.cpp's PYBIND11_MODULE. Bindings only translate between Python objects and the C++ core;
// logic lives in csrc/<family>/. A new family: declare its function here, call it in module.cpp.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

namespace fastpq {

// The py::array_t flags of numeric inputs: C order, other dtypes converted, and aligned, so that
// the core's typed pointers into the data are valid (numpy allows views at odd addresses; those
// are copied).
constexpr int kInputArray =
    pybind11::array::c_style | pybind11::array::forcecast | pybind11::detail::npy_api::NPY_ARRAY_ALIGNED_;

// Whether an array the core reads through typed pointers sits at an address its element type
// cannot be read from (numpy allows such views; an empty array is never read).
inline bool misaligned(const pybind11::array& a) {
  return a.size() > 0 && reinterpret_cast<std::uintptr_t>(a.data()) % static_cast<std::uintptr_t>(a.itemsize()) != 0;
}

// Whether an array's elements are stored in the other byte order than this machine's (numpy writes
// the native order as '='): the core reads native integers, so such arrays are refused.
inline bool byte_swapped(const pybind11::array& a) {
  const char order = a.dtype().byteorder();
  return order == '<' || order == '>';
}

void register_panoptic(pybind11::module_& m);
void register_png(pybind11::module_& m);
void register_common(pybind11::module_& m);
void register_masks(pybind11::module_& m);
void register_amodal(pybind11::module_& m);
void register_combine(pybind11::module_& m);
void register_semantic(pybind11::module_& m);
void register_amodal_consistency(pybind11::module_& m);
void register_instance(pybind11::module_& m);
void register_tables(pybind11::module_& m);

}  // namespace fastpq
