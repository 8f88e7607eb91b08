// Bindings of the Cityscapes instance counting (csrc/instance/): translation only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common/errors.hpp"
#include "instance/instance_count.hpp"
#include "png/mask_png.hpp"

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
  m.def(
      "instance_count_memory",
      [](const py::list& gt_pngs, const py::list& masks, const std::vector<std::string>& gt_names,
         const std::vector<std::vector<std::string>>& mask_names, int workers, std::uint64_t max_pixels) {
        if (gt_pngs.size() != masks.size() || gt_names.size() != gt_pngs.size() || mask_names.size() != masks.size())
          throw fastpq::UsageError("gt_pngs, masks and their names differ in length");
        auto view = [](const py::handle& item, const std::uint8_t** data, std::size_t* size) {
          if (!py::isinstance<py::bytes>(item)) throw fastpq::UsageError("PNGs must be given as bytes");
          char* p = nullptr;
          Py_ssize_t n = 0;
          PyBytes_AsStringAndSize(item.ptr(), &p, &n);
          *data = reinterpret_cast<const std::uint8_t*>(p);
          *size = static_cast<std::size_t>(n);
        };
        std::vector<fastpq::InstanceImageBytes> images(gt_pngs.size());
        for (std::size_t i = 0; i < images.size(); ++i) {
          auto& im = images[i];
          view(gt_pngs[i], &im.gt_data, &im.gt_size);
          im.gt_name = gt_names[i];
          const py::list image_masks = masks[i].cast<py::list>();
          if (image_masks.size() != mask_names[i].size()) throw fastpq::UsageError("masks and names differ in length");
          for (const py::handle& m : image_masks) {
            const std::uint8_t* data = nullptr;
            std::size_t size = 0;
            view(m, &data, &size);
            im.mask_data.push_back(data);
            im.mask_sizes.push_back(size);
          }
          im.mask_names = mask_names[i];
        }
        std::vector<fastpq::InstanceImageCounts> counts;
        {
          py::gil_scoped_release release;
          counts = fastpq::count_instance_buffers(images, workers, max_pixels);
        }
        py::list out;
        for (std::size_t i = 0; i < counts.size(); ++i) {
          auto& c = counts[i];
          const py::ssize_t k = static_cast<py::ssize_t>(c.ids.size());
          const py::ssize_t p = c.error ? 0 : static_cast<py::ssize_t>(images[i].mask_data.size());
          py::array_t<std::uint32_t> ids(k, c.ids.data());
          py::array_t<std::int64_t> pix(k, c.gt_pixels.data());
          py::array_t<std::int64_t> overlap({p, k});
          if (p * k) std::copy(c.overlap.begin(), c.overlap.end(), overlap.mutable_data());
          out.append(py::make_tuple(c.error, c.message, ids, pix, overlap));
        }
        return out;
      },
      py::arg("gt_pngs"), py::arg("masks"), py::arg("gt_names"), py::arg("mask_names"), py::arg("workers") = 0,
      py::arg("max_pixels") = 134217728,
      "instance_count_files for PNG bytes (fetched from object storage): the names are used in messages.");
  m.def(
      "mask_png_runs",
      [](const py::bytes& png, const std::string& name, std::uint64_t max_pixels) {
        const std::string data = png;
        fastpq::MaskPngReader reader;
        {
          py::gil_scoped_release release;
          reader.open_memory(reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), name, max_pixels);
        }
        const auto& runs = reader.runs();
        py::array_t<std::uint32_t> out({static_cast<py::ssize_t>(runs.size()), py::ssize_t{3}});
        std::uint32_t* o = out.mutable_data();
        for (const fastpq::PixelRun& r : runs) {
          *o++ = r.y;
          *o++ = r.x0;
          *o++ = r.x1;
        }
        return py::make_tuple(reader.height(), reader.width(), out, reader.was_dense());
      },
      py::arg("png"), py::arg("name") = "<mask>", py::arg("max_pixels") = 134217728,
      "A mask PNG's non-zero pixels (Pillow's convert(\"L\") != 0) as (height, width, runs (y, x0, x1), "
      "decoded densely).");
}
