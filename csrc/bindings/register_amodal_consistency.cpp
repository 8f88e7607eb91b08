// Bindings of the amodal annotator consistency (csrc/amodal/amodal_consistency.hpp): translation only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings/register.hpp"
#include <pybind11/stl.h>

#include "amodal/amodal_consistency.hpp"
#include "amodal/amodal_edges.hpp"
#include "common/errors.hpp"

namespace py = pybind11;
using namespace fastpq;

namespace {

MaskSource mask_source(const py::handle& h) {
  MaskSource m;
  if (py::isinstance<py::str>(h)) m.rle = h.cast<std::string>();
  else m.polygons = h.cast<std::vector<std::vector<double>>>();
  return m;
}

template <typename T, typename F>
py::array_t<T> column(const ConsistencyResult& r, std::size_t total, F get) {
  py::array_t<T> out(static_cast<py::ssize_t>(total));
  T* data = out.mutable_data();
  std::size_t k = 0;
  for (std::size_t i = 0; i < r.images.size(); ++i)
    for (const PairScore& p : r.images[i]) data[k++] = get(i, p);
  return out;
}

// Each image: (height, width, [annotation masks, ...]), a mask a compressed RLE string or polygons.
std::vector<ConsistencyImageInput> consistency_inputs(const py::list& images) {
  std::vector<ConsistencyImageInput> inputs;
  inputs.reserve(images.size());
  for (const py::handle& item : images) {
    py::tuple t = item.cast<py::tuple>();
    ConsistencyImageInput in;
    in.height = t[0].cast<std::uint32_t>();
    in.width = t[1].cast<std::uint32_t>();
    for (const py::handle& ann : t[2].cast<py::list>()) {
      std::vector<MaskSource> masks;
      for (const py::handle& h : ann.cast<py::list>()) masks.push_back(mask_source(h));
      in.annotations.push_back(std::move(masks));
    }
    inputs.push_back(std::move(in));
  }
  return inputs;
}

// The pairs as flat numpy columns; the counts of X and Y under the names given.
py::dict pair_columns(const ConsistencyResult& r, const char* count_x, const char* count_y) {
  py::dict out;
  out["failure"] = r.failed_image < 0 ? py::object(py::none())
                                      : py::object(py::make_tuple(r.failed_image, r.failure));
  std::size_t total = 0;
  for (const auto& pairs : r.images) total += pairs.size();
  using I = std::int64_t;
  out["image"] = column<I>(r, total, [](std::size_t i, const PairScore&) { return static_cast<I>(i); });
  out["x"] = column<I>(r, total, [](std::size_t, const PairScore& p) { return static_cast<I>(p.x); });
  out["y"] = column<I>(r, total, [](std::size_t, const PairScore& p) { return static_cast<I>(p.y); });
  out[count_x] = column<I>(r, total, [](std::size_t, const PairScore& p) { return p.regions_x; });
  out[count_y] = column<I>(r, total, [](std::size_t, const PairScore& p) { return p.regions_y; });
  out["matched_x"] = column<I>(r, total, [](std::size_t, const PairScore& p) { return p.matched_x; });
  out["matched_y"] = column<I>(r, total, [](std::size_t, const PairScore& p) { return p.matched_y; });
  out["precision"] = column<double>(r, total, [](std::size_t, const PairScore& p) { return p.precision; });
  out["recall"] = column<double>(r, total, [](std::size_t, const PairScore& p) { return p.recall; });
  out["f"] = column<double>(r, total, [](std::size_t, const PairScore& p) { return p.f; });
  return out;
}

}  // namespace

void fastpq::register_amodal_consistency(py::module_& m) {
  m.def(
      "amodal_region_consistency",
      [](const py::list& images, double threshold, int matching, int workers) {
        std::vector<ConsistencyImageInput> inputs = consistency_inputs(images);
        if (matching < 0 || matching > 2) throw UsageError("unknown region matching");
        ConsistencyResult r;
        {
          py::gil_scoped_release release;
          r = region_consistency(inputs, threshold, static_cast<RegionMatching>(matching), workers);
        }
        return pair_columns(r, "regions_x", "regions_y");
      },
      py::arg("images"), py::arg("threshold") = 0.5, py::arg("matching") = 0, py::arg("workers") = 0,
      "Region consistency of every ordered annotator pair of every image: flat numpy columns "
      "(image, x, y, regions_x, regions_y, matched_x, matched_y, precision, recall, f).");
  m.def(
      "amodal_edge_consistency",
      [](const py::list& images, double max_dist, int workers) {
        std::vector<ConsistencyImageInput> inputs = consistency_inputs(images);
        ConsistencyResult r;
        {
          py::gil_scoped_release release;
          r = edge_consistency(inputs, max_dist, workers);
        }
        return pair_columns(r, "edges_x", "edges_y");
      },
      py::arg("images"), py::arg("max_dist") = 0.0075, py::arg("workers") = 0,
      "Edge consistency of every ordered annotator pair of every image (boundary pixels matched one to one "
      "within max_dist of the image diagonal): flat numpy columns (image, x, y, edges_x, edges_y, matched_x, "
      "matched_y, precision, recall, f).");
  m.def(
      "amodal_boundary_map",
      [](const py::list& masks, std::uint32_t h, std::uint32_t w) {
        std::vector<Rle> rles;
        for (const py::handle& item : masks) rles.push_back(decode_mask(mask_source(item), h, w));
        std::vector<std::uint8_t> map;
        {
          py::gil_scoped_release release;
          map = boundary_map(rles, h, w);
        }
        // Column-major in C++: a (h, w) array with Fortran strides.
        py::array_t<std::uint8_t> out({static_cast<py::ssize_t>(h), static_cast<py::ssize_t>(w)},
                                      {py::ssize_t{1}, static_cast<py::ssize_t>(h)});
        if (!map.empty()) std::copy(map.begin(), map.end(), out.mutable_data());
        return out;
      },
      py::arg("masks"), py::arg("height"), py::arg("width"),
      "The boundary map (height x width, 0/1) of masks given as compressed RLE strings or polygons: per mask, "
      "BSDS's seg2bmap rule, united.");
}
