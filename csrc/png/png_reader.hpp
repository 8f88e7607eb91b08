// Reading COCO panoptic PNGs (8-bit RGB or RGBA, not interlaced) row by row as runs of
// equal segment ids, id = R + 256*G + 65536*B, alpha ignored; and, the same way, 8- and 16-bit
// greyscale label maps as runs of equal values.
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

// A row's runs as seen by their consumers, wherever they are kept.
struct RunSpan {
  const Run* first;
  std::size_t count;
  const Run* begin() const { return first; }
  const Run* end() const { return first + count; }
  std::size_t size() const { return count; }
};

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
  operator RunSpan() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<Run[]> data_;
  std::size_t capacity_ = 0, size_ = 0;
};

constexpr std::uint64_t kDefaultMaxPixels = std::uint64_t{1} << 27;

class PanopticPngReader {
 public:
  // What open_* accepts: panoptic maps (8-bit RGB or RGBA), or label maps of 8- or 16-bit grey,
  // whose runs then hold the grey values (16-bit ones with the file's first byte lowest).
  enum class Kind { kPanoptic, kGrey };
  explicit PanopticPngReader(InflateBackend backend = InflateBackend::kDefault, Kind kind = Kind::kPanoptic);

  // Reads, checks and inflates a whole PNG file. Throws FormatError naming `path`.
  void open_file(const std::string& path, std::uint64_t max_pixels = kDefaultMaxPixels);
  // The same for PNG bytes already in memory; `name` is used in error messages.
  void open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                   std::uint64_t max_pixels = kDefaultMaxPixels);

  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  // Bytes per pixel: 3 or 4 (panoptic), 1 or 2 (grey).
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
  Kind kind_;
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

// Every row of one image read ahead as runs, so that its reader can go on to the other image of
// the pair: inflating that one into the same buffer, still in cache, costs far less than keeping
// both images inflated while their rows are read in step. Offers the rows again, in order, the
// way the reader offers them, and throws a FormatError met while reading them only when the row
// it concerns is reached, so that errors come in the order a reading in step would meet them.
class StoredRows {
 public:
  // Reads the rows of the image `reader` has open, which ends up past its last row.
  void read(PanopticPngReader& reader);
  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  const std::string& name() const { return name_; }

  // The next row, as PanopticPngReader::next_row: false when its ids repeat the previous row's.
  bool next_row();
  RunSpan row_runs() const { return {runs_.data() + row_begin_, row_count_}; }

  // Releases the run buffer when it holds more than `limit` bytes (after an unusually noisy image).
  void shrink_if_above(std::size_t limit);

 private:
  std::vector<Run> runs_;            // the runs of the rows that differ from the row above
  std::vector<std::uint32_t> count_;  // per row: its number of runs, 0 when it repeats the row above
  std::uint32_t width_ = 0, height_ = 0;
  std::string name_;
  std::uint32_t failed_row_ = 0;  // the row whose reading threw error_, or height_ when none did
  std::string error_;
  std::uint32_t next_ = 0;
  std::size_t row_begin_ = 0, row_count_ = 0;
};

}  // namespace fastpq
