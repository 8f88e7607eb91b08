#include "png/png_floor.hpp"

#include <atomic>
#include <memory>
#include <mutex>

#include "common/buffer.hpp"
#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "png/png_chunks.hpp"

namespace fastpq {
namespace {

struct FloorBuffers {
  explicit FloorBuffers(InflateBackend b) : backend(b), inflater(b) {}
  InflateBackend backend;
  Inflater inflater;
  ByteBuffer file, joined, raw;
};

// Bytes of one row of samples (without its filter byte), or 0 for a colour type / depth PNG forbids.
std::size_t row_bytes(const PngHeader& h) {
  const int channels = h.color_type == 0 || h.color_type == 3 ? 1 : h.color_type == 4 ? 2 : h.color_type == 2 ? 3
                       : h.color_type == 6                        ? 4 : 0;
  if (channels == 0 || h.bit_depth <= 0 || h.bit_depth > 16) return 0;
  return (std::size_t{h.width} * channels * h.bit_depth + 7) / 8;
}

}  // namespace

InflateFloor inflate_png_files(const std::vector<std::string>& paths, int workers, std::uint64_t max_pixels,
                               InflateBackend backend) {
  const std::int64_t n = static_cast<std::int64_t>(paths.size());
  std::vector<std::uint64_t> compressed(paths.size()), inflated(paths.size());
  std::atomic<std::int64_t> first_failure{n};
  std::mutex mutex;
  std::string message;
  bool missing = false;
  parallel_for(n, workers, [&](std::int64_t i) {
    if (i > first_failure.load(std::memory_order_relaxed)) return;
    const std::string& path = paths[static_cast<std::size_t>(i)];
    try {
      thread_local std::unique_ptr<FloorBuffers> buffers;
      if (!buffers || buffers->backend != backend) buffers = std::make_unique<FloorBuffers>(backend);
      const std::size_t size = read_png_file(path, buffers->file);
      const PngHeader h = parse_png_chunks(buffers->file.data(), size, path);
      const std::size_t row = row_bytes(h);
      if (row == 0) throw FormatError("PNG file '" + path + "': colour type and bit depth PNG does not define");
      if (h.interlace != 0) throw FormatError("PNG file '" + path + "': is interlaced");
      if (std::uint64_t{h.width} * h.height > max_pixels)
        throw FormatError("PNG file '" + path + "': image is larger than max_pixels=" + std::to_string(max_pixels));
      const std::size_t expected = (row + 1) * h.height;
      inflate_png_data(buffers->file.data(), h, buffers->inflater, buffers->joined, buffers->raw.reserve(expected),
                       expected, path);
      compressed[static_cast<std::size_t>(i)] = h.idat_total;
      inflated[static_cast<std::size_t>(i)] = expected;
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mutex);
      if (i < first_failure.load()) {
        first_failure.store(i);
        message = e.what();
        missing = dynamic_cast<const FileNotFound*>(&e) != nullptr;
      }
    }
  });
  if (first_failure.load() < n) {
    if (missing) throw FileNotFound(message);
    throw FormatError(message);
  }
  InflateFloor floor;
  floor.files = paths.size();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    floor.compressed_bytes += compressed[i];
    floor.inflated_bytes += inflated[i];
  }
  return floor;
}

}  // namespace fastpq
