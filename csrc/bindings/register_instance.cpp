// Bindings of the Cityscapes instance counting (csrc/instance/): translation only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "instance/instance_count.hpp"

#include "bindings/register.hpp"

namespace py = pybind11;

void fastpq::register_instance(py::module_& m) {
  m.def(
      "instance_count_files",
      [](const std::vector<std::string>& gt_paths, const std::vector<std::vector<std::string>>& masks,
         int workers, std::uint64_t max_pixels) {
        std::vector<fastpq::InstanceImageCounts> counts;
        {
          py::gil_scoped_release release;
          counts = fastpq::count_instance_images(gt_paths, masks, workers, max_pixels);
        }
        py::list out;
        for (std::size_t i = 0; i < counts.size(); ++i) {
          auto& c = counts[i];
          const py::ssize_t k = static_cast<py::ssize_t>(c.ids.size());
          const py::ssize_t p = c.error ? 0 : static_cast<py::ssize_t>(masks[i].size());
          py::array_t<std::uint32_t> ids(k, c.ids.data());
          py::array_t<std::int64_t> pix(k, c.gt_pixels.data());
          py::array_t<std::int64_t> overlap({p, k});
          if (p * k) std::copy(c.overlap.begin(), c.overlap.end(), overlap.mutable_data());
          out.append(py::make_tuple(c.error, c.message, ids, pix, overlap));
        }
        return out;
      },
      py::arg("gt_paths"), py::arg("masks"), py::arg("workers") = 0, py::arg("max_pixels") = 134217728,
      "Per image (error kind, message, ids, GT pixels per id, masks x ids pixel counts), read in C++.");
}
