// Bindings of the amodal metric (csrc/amodal/): COCOA matching counts.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/register.hpp"
#include "amodal/amodal_engine.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace fastpq {

void register_amodal(py::module_& m) {
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
}

}  // namespace fastpq
