// Bindings of the COCO RLE masks (csrc/masks/).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>
#include <vector>

#include "bindings/register.hpp"
#include "masks/masks.hpp"

namespace py = pybind11;

namespace fastpq {

void register_masks(py::module_& m) {
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
}

}  // namespace fastpq
