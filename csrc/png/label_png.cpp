#include "png/label_png.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/errors.hpp"
#include "png/png_chunks.hpp"

namespace fastpq {
namespace {

std::uint8_t paeth(std::uint8_t a, std::uint8_t b, std::uint8_t c) {
  const int p = int{a} + int{b} - int{c};
  const int pa = std::abs(p - int{a}), pb = std::abs(p - int{b}), pc = std::abs(p - int{c});
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

std::uint64_t load8(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The 8 bytes that continue the pixel `p[-bpp .. -1]` periodically (bpp 1 or 2).
std::uint64_t repeat_pixel(const std::uint8_t* p, std::size_t bpp) {
  if (bpp == 1) return 0x0101010101010101ull * p[-1];
  std::uint16_t pixel;  // in memory order: the product repeats it in memory order on any endianness
  std::memcpy(&pixel, p - 2, 2);
  return 0x0001000100010001ull * pixel;
}

// Undoes one byte of filter `filter` at position i (i >= bpp for the left neighbours).
inline std::uint8_t unfilter_byte(int filter, const std::uint8_t* in, const std::uint8_t* up, std::uint8_t* out,
                                  std::size_t i, std::size_t bpp) {
  const std::uint8_t left = i >= bpp ? out[i - bpp] : 0, corner = i >= bpp ? up[i - bpp] : 0;
  switch (filter) {
    case 1: return static_cast<std::uint8_t>(in[i] + left);
    case 3: return static_cast<std::uint8_t>(in[i] + ((unsigned{left} + up[i]) >> 1));
    default: return static_cast<std::uint8_t>(in[i] + paeth(left, up[i], corner));
  }
}

// Undoes one row's filter: `in` is the filtered row (without its filter byte), `up` the previous
// unfiltered row (zeros for the first), `bpp` the filter distance.
//
// Label maps are runs, so most residuals are zero. For 1- and 2-byte pixels, Sub and Paeth rows go
// 8 bytes at a time where the residuals are zero: Sub then repeats the pixel on the left; Paeth
// repeats it too where the row above repeats its own (b == c gives p = a), and copies the row above
// once the pixel on the left equals the one above it (a == c gives b, which keeps a == c).
void unfilter(int filter, const std::uint8_t* __restrict in, const std::uint8_t* __restrict up,
              std::uint8_t* __restrict out, std::size_t n, std::size_t bpp) {
  if (filter == 0) {
    std::memcpy(out, in, n);
    return;
  }
  if (filter == 2) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(in[i] + up[i]);
    return;
  }
  std::size_t i = 0;
  const bool blocks = (filter == 1 || filter == 4) && bpp <= 2;
  const std::size_t head = blocks ? std::min<std::size_t>(n, 8) : n;
  for (; i < head; ++i) out[i] = unfilter_byte(filter, in, up, out, i, bpp);
  if (!blocks) return;
  for (; i + 8 <= n; i += 8) {
    if (load8(in + i) == 0) {
      if (filter == 1 || load8(up + i) == repeat_pixel(up + i, bpp)) {
        const std::uint64_t fill = repeat_pixel(out + i, bpp);
        std::memcpy(out + i, &fill, 8);
        continue;
      }
      if (std::memcmp(out + i - bpp, up + i - bpp, bpp) == 0) {
        std::memcpy(out + i, up + i, 8);
        continue;
      }
    }
    for (std::size_t j = i; j < i + 8; ++j) out[j] = unfilter_byte(filter, in, up, out, j, bpp);
  }
  for (; i < n; ++i) out[i] = unfilter_byte(filter, in, up, out, i, bpp);
}

}  // namespace

void LabelPngReader::fail(const std::string& what) const { throw FormatError("PNG file '" + name_ + "': " + what); }

void LabelPngReader::open_file(const std::string& path, std::uint64_t max_pixels) {
  name_ = path;
  std::size_t size = read_png_file(path, file_);
  parse_and_inflate(file_.data(), size, max_pixels);
}

void LabelPngReader::open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                                 std::uint64_t max_pixels) {
  name_ = name;
  parse_and_inflate(data, size, max_pixels);
}

void LabelPngReader::parse_and_inflate(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels) {
  const PngHeader h = parse_png_chunks(data, size, name_);
  width_ = h.width;
  height_ = h.height;
  bit_depth_ = h.bit_depth;
  const int ct = h.color_type, bd = h.bit_depth;
  const bool ok = (ct == 0 && (bd == 1 || bd == 2 || bd == 4 || bd == 8 || bd == 16)) ||
                  (ct == 3 && (bd == 1 || bd == 2 || bd == 4 || bd == 8)) || (ct == 4 && (bd == 8 || bd == 16)) ||
                  ((ct == 2 || ct == 6) && bd == 8);
  if (!ok)
    fail("colour type " + std::to_string(ct) + " at bit depth " + std::to_string(bd) +
         " is not a label map (grey of 1-16 bits, palette, grey + alpha, or 8-bit RGB / RGBA)");
  if (h.interlace != 0) fail("is interlaced (Adam7); label maps must not be interlaced");
  const std::uint64_t pixels = std::uint64_t{width_} * height_;
  if (pixels > max_pixels)
    fail("image of " + std::to_string(width_) + "x" + std::to_string(height_) +
         " pixels is larger than max_pixels=" + std::to_string(max_pixels));
  channels_ = ct == 2 ? 3 : ct == 6 ? 4 : ct == 4 ? 2 : 1;
  sample_scale_ = ct == 0 && bd == 2 ? 85 : ct == 0 && bd == 4 ? 17 : 1;
  label_bytes_ = (ct == 2 || ct == 6) ? 4 : bd == 16 ? 2 : 1;
  const std::size_t bits = std::size_t{width_} * channels_ * bd;
  row_bytes_ = (bits + 7) / 8;
  pixel_bytes_ = std::max<std::size_t>(1, std::size_t(channels_) * bd / 8);
  const std::size_t expected = (row_bytes_ + 1) * height_;
  std::uint8_t* raw = raw_.reserve(expected);
  const std::uint32_t declared = inflate_png_data(data, h, inflater_, idat_, raw, expected, name_);
  if (adler32_of(raw, expected) != declared) fail("image data is corrupt (Adler-32 checksum mismatch)");
  std::memset(rows_[0].reserve(row_bytes_), 0, row_bytes_);
  rows_[1].reserve(row_bytes_);
  next_row_ = 0;
  current_ = 0;
}

const std::uint8_t* LabelPngReader::next_row_bytes() {
  if (next_row_ >= height_) fail("read past the last row");
  const std::uint8_t* in = raw_.data() + std::size_t{next_row_} * (row_bytes_ + 1);
  if (in[0] > 4) fail("invalid filter type " + std::to_string(in[0]) + " in row " + std::to_string(next_row_));
  if (next_row_ == 0) std::memset(rows_[current_].data(), 0, row_bytes_);
  std::uint8_t* out = rows_[current_ ^ 1].data();
  unfilter(in[0], in + 1, rows_[current_].data(), out, row_bytes_, pixel_bytes_);
  current_ ^= 1;
  ++next_row_;
  return out;
}

void LabelPngReader::next_row(std::uint32_t* labels) {
  const std::uint8_t* row = next_row_bytes();
  const std::uint32_t w = width_;
  if (bit_depth_ < 8) {
    const int per_byte = 8 / bit_depth_, mask = (1 << bit_depth_) - 1;
    for (std::uint32_t x = 0; x < w; ++x) {
      const int shift = 8 - bit_depth_ * (1 + static_cast<int>(x % per_byte));
      labels[x] = ((row[x / per_byte] >> shift) & mask) * sample_scale_;
    }
    return;
  }
  const std::size_t step = pixel_bytes_;
  if (step == 1) {
    for (std::uint32_t x = 0; x < w; ++x) labels[x] = row[x];
  } else if (step == 2 && bit_depth_ == 16) {
    for (std::uint32_t x = 0; x < w; ++x) labels[x] = (std::uint32_t{row[2 * x]} << 8) | row[2 * x + 1];
  } else if (label_bytes_ == 4) {
    for (std::uint32_t x = 0; x < w; ++x) {
      const std::uint8_t* p = row + x * step;
      labels[x] = std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16);
    }
  } else if (bit_depth_ == 16) {
    for (std::uint32_t x = 0; x < w; ++x) labels[x] = (std::uint32_t{row[x * step]} << 8) | row[x * step + 1];
  } else {
    for (std::uint32_t x = 0; x < w; ++x) labels[x] = row[x * step];
  }
}

void LabelPngReader::shrink_if_above(std::size_t limit) {
  for (ByteBuffer* b : {&file_, &idat_, &raw_}) b->shrink_if_above(limit);
}

}  // namespace fastpq
