// Reading COCO panoptic PNGs (8-bit RGB or RGBA, not interlaced) row by row as runs of
// equal segment ids, id = R + 256*G + 65536*B, alpha ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "inflate.hpp"

namespace fastpq {

// Maximal run of equal ids in a row: pixels [previous run's end, end) hold `id`.
struct Run {
  std::uint32_t end;
  std::uint32_t id;
};

constexpr std::uint64_t kDefaultMaxPixels = std::uint64_t{1} << 27;

class PanopticPngReader {
 public:
  explicit PanopticPngReader(InflateBackend backend = InflateBackend::kDefault);

  // Reads, checks and inflates a whole PNG file. Throws FormatError naming `path`.
  void open_file(const std::string& path, std::uint64_t max_pixels = kDefaultMaxPixels);
  // The same for PNG bytes already in memory; `name` is used in error messages.
  void open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                   std::uint64_t max_pixels = kDefaultMaxPixels);

  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  int channels() const { return channels_; }
  const std::string& name() const { return name_; }

  // Decodes the next row. Returns false when its ids equal the previous row's, leaving `runs`
  // as they were (they must hold the previous row's runs); else replaces `runs` by this row's.
  bool next_row_runs(std::vector<Run>& runs);
  // Decodes the next row and writes its ids to `ids` (width values).
  void next_row_ids(std::uint32_t* ids);

  // Releases buffers above `limit` bytes (after an unusually large image).
  void shrink_if_above(std::size_t limit);

 private:
  void parse_and_inflate(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);
  [[noreturn]] void fail(const std::string& what) const;

  Inflater inflater_;
  ByteBuffer file_, idat_, raw_, rows_[2], zero_row_;
  std::string name_;
  std::uint32_t width_ = 0, height_ = 0;
  int channels_ = 0;
  std::size_t row_bytes_ = 0;  // width * channels, without the filter byte
  std::uint32_t next_row_ = 0;
  int current_ = 0;  // index into rows_ of the last decoded row
};

}  // namespace fastpq
