// A minimal reader for the single-channel PNGs of Cityscapes instance evaluation: GT
// *_instanceIds.png (8- or 16-bit grey) and predicted masks (grey 1-16 bit, palette, grey+alpha,
// RGB(A) 8-bit), each pixel reduced to the value Pillow's convert("L") would make non-zero.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/buffer.hpp"
#include "png/inflate.hpp"

namespace fastpq {

class GreyPngReader {
 public:
  // Reads, checks, inflates and unfilters a PNG. Throws FormatError / FileNotFound naming `name`.
  void open_file(const std::string& path, std::uint64_t max_pixels);
  void open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                   std::uint64_t max_pixels);
  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  // Grey values of a row (GT ids): needs an 8- or 16-bit greyscale image.
  void row_values(std::uint32_t y, std::uint32_t* out) const;
  // 1 where the pixel is non-zero after Pillow's conversion to "L", 0 elsewhere, written for the
  // pixels [*x0, *x1) (outside them all are zero); returns false (writing nothing) for a zero row.
  bool row_nonzero(std::uint32_t y, std::uint8_t* out, std::uint32_t* x0, std::uint32_t* x1) const;
  bool is_plain_grey() const { return color_type_ == 0 && (bit_depth_ == 8 || bit_depth_ == 16); }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void parse(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);

  Inflater inflater_;
  ByteBuffer file_, idat_, raw_;
  std::string name_;
  std::uint32_t width_ = 0, height_ = 0;
  int bit_depth_ = 0, color_type_ = 0, channels_ = 1;
  std::size_t stride_ = 0;  // bytes per row without the filter byte
  std::uint8_t palette_nonzero_[256] = {};
};

}  // namespace fastpq
