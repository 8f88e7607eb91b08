// Reading label-map PNGs row by row: greyscale of 1, 2, 4, 8 or 16 bits (the label is the sample as
// Pillow gives it: 2- and 4-bit samples scaled to 8 bits, times 85 and 17, as its modes "L;2" /
// "L;4" and libpng's expansion do; 1-bit samples 0 and 1, as its mode "1"), palette (the index is
// the label, as Pillow's mode "P" gives it), grey + alpha (alpha ignored), and 8-bit RGB / RGBA
// colour codes (R + 256*G + 65536*B, alpha ignored). Not interlaced. The checks and limits of the
// panoptic reader: CRC of every chunk, max_pixels from IHDR before any allocation, inflated size,
// filter types, Adler-32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/buffer.hpp"
#include "png/inflate.hpp"
#include "png/png_reader.hpp"

namespace fastpq {

class LabelPngReader {
 public:
  explicit LabelPngReader(InflateBackend backend = InflateBackend::kDefault) : inflater_(backend) {}

  // Reads, checks and inflates a whole file (FileNotFound / FormatError naming it).
  void open_file(const std::string& path, std::uint64_t max_pixels = kDefaultMaxPixels);
  // The same for PNG bytes in memory; `name` is used in messages.
  void open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                   std::uint64_t max_pixels = kDefaultMaxPixels);

  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  const std::string& name() const { return name_; }
  // Bytes per label of the natural array type: 1 (grey <= 8 bits, palette), 2 (16-bit grey), 4 (RGB).
  int label_bytes() const { return label_bytes_; }
  int bit_depth() const { return bit_depth_; }
  // Samples per pixel: 1 (grey, palette), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
  int samples_per_pixel() const { return channels_; }
  // Whether a row's unfiltered bytes are its labels (8-bit grey or palette).
  bool byte_labels() const { return bit_depth_ == 8 && channels_ == 1; }

  // Unfilters the next row; returns its bytes (the labels when byte_labels()).
  const std::uint8_t* next_row_bytes();
  // Decodes the next row's labels into `labels` (width values).
  void next_row(std::uint32_t* labels);

  void shrink_if_above(std::size_t limit);

 private:
  void parse_and_inflate(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);
  [[noreturn]] void fail(const std::string& what) const;

  Inflater inflater_;
  ByteBuffer file_, idat_, raw_, rows_[2];
  std::string name_;
  std::uint32_t width_ = 0, height_ = 0;
  int bit_depth_ = 0, channels_ = 0, label_bytes_ = 1;
  std::uint32_t sample_scale_ = 1;  // what sub-byte samples are multiplied by
  std::size_t row_bytes_ = 0, pixel_bytes_ = 1;  // row without the filter byte; filter distance
  std::uint32_t next_row_ = 0;
  int current_ = 0;
};

// Decodes every row of `reader` into `out` (height x width values, row-major), each label cast to
// T; the caller picks T from label_bytes() so that nothing is narrowed.
template <typename T>
void read_label_image(LabelPngReader& reader, T* out) {
  const std::uint32_t h = reader.height(), w = reader.width();
  std::vector<std::uint32_t> row(w);
  for (std::uint32_t y = 0; y < h; ++y) {
    reader.next_row(row.data());
    for (std::uint32_t x = 0; x < w; ++x) out[std::size_t{y} * w + x] = static_cast<T>(row[x]);
  }
}

}  // namespace fastpq
