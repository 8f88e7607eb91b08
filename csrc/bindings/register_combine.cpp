// Bindings of panopticapi's combination of instance masks and semantic maps and its segment ids
// (csrc/panoptic/combine.hpp, csrc/panoptic/panoptic_ids.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <vector>

#include "bindings/register.hpp"
#include "common/errors.hpp"
#include "masks/masks.hpp"
#include "panoptic/combine.hpp"
#include "panoptic/panoptic_ids.hpp"

namespace py = pybind11;

namespace fastpq {

void register_combine(py::module_& m) {
  {
    static const auto category_table = [](std::vector<std::int32_t> ids, std::vector<std::uint8_t> isthing,
                                           std::vector<std::array<std::uint8_t, 3>> colors) {
      if (isthing.size() != ids.size() || colors.size() != ids.size())
        throw UsageError("category ids, isthing and colors differ in length");
      return CategoryTable{std::move(ids), std::move(isthing), std::move(colors)};
    };
    static const auto stats_columns = [](const std::vector<SegmentStats>& stats) {
      std::vector<std::uint32_t> ids;
      std::vector<std::uint64_t> areas;
      std::vector<std::array<std::uint32_t, 4>> boxes;
      for (const auto& s : stats) ids.push_back(s.id), areas.push_back(s.area), boxes.push_back(s.bbox);
      return py::make_tuple(ids, areas, boxes);
    };
    m.def(
        "combine_panoptic",
        [](const py::list& images, std::vector<std::int32_t> category_ids, std::vector<std::uint8_t> isthing,
           std::vector<std::array<std::uint8_t, 3>> colors, double confidence_thr, double overlap_thr,
           double stuff_area_limit, std::optional<std::int64_t> void_value, int workers) {
          const CategoryTable categories = category_table(std::move(category_ids), std::move(isthing), std::move(colors));
          CombineOptions options;
          options.confidence_thr = confidence_thr;
          options.overlap_thr = overlap_thr;
          options.stuff_area_limit = stuff_area_limit;
          options.has_void = void_value.has_value();
          options.void_value = void_value.value_or(0);
          options.workers = workers;
          std::vector<CombineImage> inputs;
          std::vector<py::array> keep;  // semantic maps and outputs stay alive while the core runs
          py::list outputs;
          for (const py::handle& item : images) {
            // (height, width, semantic map or None, masks, scores, category indices); a mask is
            // (h, w, compressed string or counts).
            py::tuple t = item.cast<py::tuple>();
            CombineImage in;
            in.height = t[0].cast<std::uint32_t>();
            in.width = t[1].cast<std::uint32_t>();
            if (!t[2].is_none()) {
              py::array sem = py::reinterpret_borrow<py::array>(t[2]);
              if (sem.ndim() != 2 || !(sem.flags() & py::array::c_style) ||
                  static_cast<std::uint64_t>(sem.shape(0)) != in.height || static_cast<std::uint64_t>(sem.shape(1)) != in.width)
                throw UsageError("a semantic map must be a C-contiguous (height, width) array");
              if (misaligned(sem)) throw UsageError("a semantic map must be an aligned array");
              if (byte_swapped(sem)) throw UsageError("a semantic map must be in native byte order");
              const char kind = sem.dtype().kind();
              const auto size = sem.dtype().itemsize();
              if (kind == 'u' && size == 1) in.semantic.type = SemanticType::kU8;
              else if (kind == 'u' && size == 2) in.semantic.type = SemanticType::kU16;
              else if (kind == 'i' && size == 4) in.semantic.type = SemanticType::kI32;
              else throw UsageError("semantic maps must be uint8, uint16 or int32 arrays");
              in.semantic.data = sem.data();
              keep.push_back(sem);
            }
            auto scores = t[4].cast<std::vector<double>>();
            auto cats = t[5].cast<std::vector<std::size_t>>();
            py::list masks = t[3].cast<py::list>();
            if (scores.size() != masks.size() || cats.size() != masks.size())
              throw UsageError("masks, scores and categories differ in number");
            for (std::size_t k = 0; k < masks.size(); ++k) {
              py::tuple mt = masks[k].cast<py::tuple>();
              CombineInstance inst;
              inst.mask.h = mt[0].cast<std::uint32_t>();
              inst.mask.w = mt[1].cast<std::uint32_t>();
              if (py::isinstance<py::str>(mt[2]) || py::isinstance<py::bytes>(mt[2])) {
                inst.compressed = mt[2].cast<std::string>();
                if (inst.compressed.empty()) inst.mask = rle_from_counts(inst.mask.h, inst.mask.w, {});
              } else {
                inst.mask = rle_from_counts(inst.mask.h, inst.mask.w, mt[2].cast<std::vector<std::uint32_t>>());
              }
              inst.score = scores[k];
              inst.category = cats[k];
              in.instances.push_back(std::move(inst));
            }
            py::array_t<std::uint32_t> out({static_cast<py::ssize_t>(in.height), static_cast<py::ssize_t>(in.width)});
            in.out = out.mutable_data();
            outputs.append(out);
            inputs.push_back(std::move(in));
          }
          CombineResult r;
          {
            py::gil_scoped_release release;
            r = combine_panoptic(inputs, categories, options);
          }
          py::list segments;
          for (const auto& segs : r.segments) {
            std::vector<std::uint32_t> ids;
            std::vector<std::size_t> cats;
            std::vector<std::uint64_t> areas;
            std::vector<std::array<std::uint32_t, 4>> boxes;
            for (const auto& s : segs) ids.push_back(s.id), cats.push_back(s.category), areas.push_back(s.area), boxes.push_back(s.bbox);
            segments.append(py::make_tuple(ids, cats, areas, boxes));
          }
          py::dict d;
          d["ids"] = outputs;
          d["segments"] = segments;
          d["failure"] = r.failed_image < 0 ? py::object(py::none()) : py::object(py::make_tuple(r.failed_image, r.failure));
          return d;
        },
        py::arg("images"), py::arg("category_ids"), py::arg("isthing"), py::arg("colors"), py::arg("confidence_thr"),
        py::arg("overlap_thr"), py::arg("stuff_area_limit"), py::arg("void_value"), py::arg("workers") = 0,
        "panopticapi's combination of instance masks and semantic maps, per image in parallel.");
    m.def(
        "assign_segment_ids",
        [](const std::vector<std::size_t>& segment_categories, std::vector<std::int32_t> category_ids,
           std::vector<std::uint8_t> isthing, std::vector<std::array<std::uint8_t, 3>> colors) {
          const CategoryTable categories = category_table(std::move(category_ids), std::move(isthing), std::move(colors));
          SegmentIdGenerator gen(categories);
          std::vector<std::uint32_t> ids;
          for (std::size_t c : segment_categories) {
            if (c >= categories.size()) throw UsageError("segment category index out of range");
            ids.push_back(gen.next(c));
          }
          return ids;
        },
        py::arg("segment_categories"), py::arg("category_ids"), py::arg("isthing"), py::arg("colors"),
        "Ids for one image's new segments (category indices, in order), as combine_panoptic chooses them.");
    m.def(
        "segment_stats",
        [](const py::array_t<std::uint32_t, kInputArray>& ids) {
          if (ids.ndim() != 2) throw UsageError("segment_stats takes a 2-D (height, width) id map");
          std::vector<SegmentStats> stats;
          {
            py::gil_scoped_release release;
            stats = segment_stats(ids.data(), static_cast<std::uint32_t>(ids.shape(0)), static_cast<std::uint32_t>(ids.shape(1)));
          }
          return stats_columns(stats);
        },
        py::arg("ids"), "(ids ascending, areas, [x, y, width, height] boxes) of the non-zero segments of an id map.");
  }
}

}  // namespace fastpq
