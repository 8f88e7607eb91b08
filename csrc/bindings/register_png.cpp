// Bindings of the PNG reader (csrc/png/): panoptic PNGs decoded to id maps, from a file or from memory.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <string_view>

#include "bindings/register.hpp"
#include "png/inflate.hpp"
#include "png/png_floor.hpp"
#include "png/png_reader.hpp"

namespace py = pybind11;

namespace fastpq {

namespace {

py::array_t<std::uint32_t> decode_ids(PanopticPngReader& reader) {
  py::array_t<std::uint32_t> ids({static_cast<py::ssize_t>(reader.height()), static_cast<py::ssize_t>(reader.width())});
  std::uint32_t* out = ids.mutable_data();
  {
    py::gil_scoped_release release;
    for (std::uint32_t y = 0; y < reader.height(); ++y) reader.next_row_ids(out + std::size_t{y} * reader.width());
  }
  return ids;
}

py::array_t<std::uint32_t> read_png_ids(const std::string& path, std::uint64_t max_pixels, const std::string& inflate) {
  PanopticPngReader reader(parse_inflate_backend(inflate));
  {
    py::gil_scoped_release release;
    reader.open_file(path, max_pixels);
  }
  return decode_ids(reader);
}

py::array_t<std::uint32_t> decode_png_ids(const py::bytes& data, const std::string& name, std::uint64_t max_pixels,
                                          const std::string& inflate) {
  PanopticPngReader reader(parse_inflate_backend(inflate));
  std::string_view view = data;
  reader.open_memory(reinterpret_cast<const std::uint8_t*>(view.data()), view.size(), name, max_pixels);
  return decode_ids(reader);
}

}  // namespace

void register_png(py::module_& m) {
  m.def("read_png_ids", &read_png_ids, py::arg("path"), py::arg("max_pixels") = kDefaultMaxPixels,
        py::arg("inflate") = "");
  m.def("decode_png_ids", &decode_png_ids, py::arg("data"), py::arg("name") = "<memory>",
        py::arg("max_pixels") = kDefaultMaxPixels, py::arg("inflate") = "");
  m.def(
      "inflate_png_files",
      [](const std::vector<std::string>& paths, int workers, std::uint64_t max_pixels, const std::string& inflate) {
        const InflateBackend backend = parse_inflate_backend(inflate);
        InflateFloor floor;
        {
          py::gil_scoped_release release;
          floor = inflate_png_files(paths, workers, max_pixels, backend);
        }
        py::dict out;
        out["files"] = floor.files;
        out["compressed_bytes"] = floor.compressed_bytes;
        out["inflated_bytes"] = floor.inflated_bytes;
        return out;
      },
      py::arg("paths"), py::arg("workers") = 0, py::arg("max_pixels") = kDefaultMaxPixels, py::arg("inflate") = "",
      "Reads and inflates every PNG's image data (no unfiltering, no Adler-32 check), for the benchmarks' floor.");
  m.attr("DEFAULT_MAX_PIXELS") = kDefaultMaxPixels;
}

}  // namespace fastpq
