// Reading COCO panoptic PNGs (8-bit RGB or RGBA, not interlaced) row by row as runs of
// equal segment ids, id = R + 256*G + 65536*B, alpha ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer.hpp"
#include "png/inflate.hpp"
#include "png/png_rows.hpp"

namespace fastpq {

// The runs of one row, in a buffer reused across rows.
class RowRuns {
 public:
  // Room for `capacity` runs; the contents are kept only when no growth is needed.
  Run* prepare(std::size_t capacity) {
    if (capacity > capacity_) {
      data_.reset(new Run[capacity]);
      capacity_ = capacity;
    }
    return data_.get();
  }
  void set_size(std::size_t size) { size_ = size; }
  const Run* begin() const { return data_.get(); }
  const Run* end() const { return data_.get() + size_; }
  std::size_t size() const { return size_; }

 private:
  std::unique_ptr<Run[]> data_;
  std::size_t capacity_ = 0, size_ = 0;
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

  // Decodes the next row; returns false when its ids repeat the previous row's.
  bool next_row();
  // The runs of the row decoded last.
  const RowRuns& row_runs() const { return runs_[current_]; }
  // Decodes the next row and writes its ids to `ids` (width values).
  void next_row_ids(std::uint32_t* ids);

  // Releases buffers above `limit` bytes (after an unusually large image).
  void shrink_if_above(std::size_t limit);

 private:
  void parse_and_inflate(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);
  [[noreturn]] void fail(const std::string& what) const;

  Inflater inflater_;
  const RowKernels& kernels_;
  ByteBuffer file_, idat_, raw_;
  RowRuns runs_[2];
  std::unique_ptr<std::uint32_t[]> nonzero_bits_;  // scratch for the row kernels
  std::size_t nonzero_words_ = 0;
  Run zero_run_{0, 0};  // the row above the first row
  std::string name_;
  std::uint32_t width_ = 0, height_ = 0;
  int channels_ = 0;
  std::size_t row_bytes_ = 0;  // width * channels, without the filter byte
  std::uint32_t next_row_ = 0;
  std::uint32_t adler_ = 1, declared_adler_ = 0;  // checksum of the rows read so far, and the stream's
  int current_ = 0;  // index into runs_ of the last decoded row
};

}  // namespace fastpq
