#include "png/mask_png.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/errors.hpp"
#include "png/png_chunks.hpp"

namespace fastpq {
namespace {

using Segment = MaskPngReader::Segment;

// Pillow's RGB -> L luminance (fixed point, rounded).
int luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

// Byte-wise (lane-wise) sum and floor average of packed units.
std::uint32_t lanes_add(std::uint32_t a, std::uint32_t b) {
  return ((a & 0x7F7F7F7Fu) + (b & 0x7F7F7F7Fu)) ^ ((a ^ b) & 0x80808080u);
}
std::uint32_t lanes_average(std::uint32_t a, std::uint32_t b) { return (a & b) + (((a ^ b) & 0xFEFEFEFEu) >> 1); }

std::uint32_t lanes_paeth(std::uint32_t a, std::uint32_t b, std::uint32_t c, int lanes) {
  std::uint32_t out = 0;
  for (int k = 0; k < lanes; ++k) {
    const int x = (a >> (8 * k)) & 255, y = (b >> (8 * k)) & 255, z = (c >> (8 * k)) & 255;
    const int p = x + y - z, px = std::abs(p - x), py = std::abs(p - y), pz = std::abs(p - z);
    const int pick = (px <= py && px <= pz) ? x : (py <= pz ? y : z);
    out |= std::uint32_t(pick) << (8 * k);
  }
  return out;
}

// The PNG predictor of filter `f` from left `a`, above `b` and above-left `c`.
std::uint32_t predict(int f, std::uint32_t a, std::uint32_t b, std::uint32_t c, int lanes) {
  switch (f) {
    case 0: return 0;
    case 1: return a;
    case 2: return b;
    case 3: return lanes_average(a, b);
    default: return lanes_paeth(a, b, c, lanes);
  }
}

void push(std::vector<Segment>& out, std::uint32_t u0, std::uint32_t u1, std::uint32_t v) {
  if (!v || u0 >= u1) return;
  if (!out.empty() && out.back().u1 == u0 && out.back().v == v) {
    out.back().u1 = u1;
    return;
  }
  out.push_back(Segment{u0, u1, v});
}

// Reads the value of sorted segments at non-decreasing positions.
struct Cursor {
  const std::vector<Segment>& s;
  std::size_t k = 0;
  std::uint32_t at(std::uint32_t u) {
    while (k < s.size() && s[k].u1 <= u) ++k;
    return (k < s.size() && s[k].u0 <= u) ? s[k].v : 0;
  }
  // The first position >= u where the value differs from the one before it (`limit` if none).
  std::uint32_t next_change(std::uint32_t u, std::uint32_t limit) {
    while (k < s.size() && s[k].u1 < u) ++k;
    if (k == s.size()) return limit;
    return std::min(limit, s[k].u0 >= u ? s[k].u0 : s[k].u1);
  }
  // The first position >= u whose value is not zero (`limit` if none).
  std::uint32_t next_nonzero(std::uint32_t u, std::uint32_t limit) {
    while (k < s.size() && s[k].u1 <= u) ++k;
    if (k == s.size()) return limit;
    return std::min(limit, std::max(s[k].u0, u));
  }
};

// Undoes filter `f` on a row of `units` given its residual segments and the row above. Work
// follows the segments: between a residual and a change above, every predictor either repeats
// its last value or (Average) settles on one within 8 steps, after which the rest is one segment.
void unfilter_segments(int f, const std::vector<Segment>& in, const std::vector<Segment>& up, std::uint32_t units,
                       int lanes, std::vector<Segment>& out) {
  out.clear();
  Cursor res{in}, above{up}, res_next{in}, above_next{up};
  std::uint32_t left = 0, upleft = 0;
  for (std::uint32_t u = 0; u < units;) {
    const std::uint32_t b = above.at(u);
    const std::uint32_t o = lanes_add(res.at(u), predict(f, left, b, upleft, lanes));
    push(out, u, u + 1, o);
    left = o;
    upleft = b;
    const std::uint32_t next =
        std::min(res_next.next_nonzero(u + 1, units), above_next.next_change(u + 1, units));
    if (next > u + 1 && predict(f, o, b, b, lanes) == o) {
      push(out, u + 1, next, o);  // units u+1 .. next-1: no residual, same value above, fixed point
      u = next;
    } else {
      ++u;
    }
  }
}

}  // namespace

void MaskPngReader::fail(const std::string& what) const { throw FormatError("PNG file '" + name_ + "': " + what); }

void MaskPngReader::open_file(const std::string& path, std::uint64_t max_pixels, Output output) {
  name_ = path;
  output_ = output;
  const std::size_t size = read_png_file(path, file_);
  decode(file_.data(), size, max_pixels);
}

void MaskPngReader::open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                                std::uint64_t max_pixels, Output output) {
  name_ = name;
  output_ = output;
  decode(data, size, max_pixels);
}

namespace {

// Empties `v`, and gives its memory back when one huge image made it large (a reader lives on in its
// worker thread: a hostile mask of millions of runs must not keep that memory there).
template <typename T>
void clear_and_trim(std::vector<T>& v) {
  if (v.capacity() * sizeof(T) > (std::size_t{16} << 20)) std::vector<T>().swap(v);
  else v.clear();
}

}  // namespace

void MaskPngReader::trim() {
  clear_and_trim(runs_);
  clear_and_trim(value_start_);
  clear_and_trim(value_of_);
}

void MaskPngReader::decode(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels) {
  trim();
  value_row_.clear();
  dense_ = false;
  const PngHeader h = parse_png_chunks(data, size, name_);
  const int d = h.bit_depth, ct = h.color_type;
  if (output_ == Output::kValues && (ct != 0 || (d != 8 && d != 16))) fail("is colour type " + std::to_string(ct) + " at bit depth " + std::to_string(d) +
                                                      "; values are read from 8- or 16-bit greyscale only");
  int channels = 1;
  switch (ct) {
    case 0: if (d != 1 && d != 2 && d != 4 && d != 8 && d != 16) fail("invalid bit depth"); break;
    case 3: if (d != 1 && d != 2 && d != 4 && d != 8) fail("invalid bit depth"); break;
    case 2: case 4: case 6:
      if (d != 8) fail("colour PNGs with bit depth " + std::to_string(d) + " are not read");
      channels = ct == 2 ? 3 : (ct == 4 ? 2 : 4);
      break;
    default: fail("invalid colour type " + std::to_string(ct));
  }
  if (h.interlace != 0) fail("is interlaced (Adam7), which fastpq's mask reader does not read");
  width_ = h.width;
  height_ = h.height;
  if (std::uint64_t{width_} * height_ > max_pixels)
    fail("image of " + std::to_string(width_) + "x" + std::to_string(height_) +
         " pixels is larger than max_pixels=" + std::to_string(max_pixels));
  bit_depth_ = d;
  color_type_ = ct;
  bpp_ = std::max(1, channels * d / 8);
  row_bytes_ = (std::size_t{width_} * channels * d + 7) / 8;
  units_ = row_bytes_ / bpp_;
  std::memset(palette_on_, 0, sizeof palette_on_);
  for (std::size_t i = 0; ct == 3 && i < h.palette_size / 3 && i < 256; ++i)
    palette_on_[i] = luma(h.palette[3 * i], h.palette[3 * i + 1], h.palette[3 * i + 2]) != 0;
  zero_on_ = ct == 3 && palette_on_[0];

  if (force_dense_) return decode_dense(data, size, max_pixels);
  const std::uint64_t expected = std::uint64_t{row_bytes_ + 1} * height_;
  const std::uint8_t* z = png_image_data(data, h, idat_);
  std::uint32_t declared = 0;
  switch (sparse_inflate(z, h.idat_total, expected, expected / 16 + 4096, bytes_, &declared)) {
    case SparseStatus::kOk: break;
    case SparseStatus::kTooDense: return decode_dense(data, size, max_pixels);
    case SparseStatus::kTooLong: fail("image data inflates past the size its header declares");
    case SparseStatus::kTooShort: fail("image data inflates to less than the size its header declares");
    case SparseStatus::kCorrupt: fail("image data is corrupt or truncated (deflate stream error)");
  }
  if (adler32_of_runs(bytes_, expected) != declared) fail("image data is corrupt (Adler-32 checksum mismatch)");

  up_.clear();
  std::size_t next = 0;
  const std::uint64_t stride = row_bytes_ + 1;
  for (std::uint32_t y = 0; y < height_; ++y) {
    const std::uint64_t row_start = y * stride, row_end = row_start + stride;
    int filter = 0;
    in_.clear();
    if (next < bytes_.size() && bytes_[next].start < row_end) {
      filter = bytes_[next].start <= row_start ? bytes_[next].value : 0;
      if (filter > 4) fail("invalid filter type " + std::to_string(filter) + " in row " + std::to_string(y));
      row_from_bytes(next, row_start);
      while (next < bytes_.size() && bytes_[next].end() <= row_end) ++next;
    }
    if (in_.empty() && (filter == 0 || up_.empty())) {
      up_.clear();  // a zero row
    } else if (!(in_.empty() && filter == 2)) {  // (an Up row without residual repeats the row above)
      unfilter_segments(filter, in_, up_, static_cast<std::uint32_t>(units_), bpp_, out_);
      up_.swap(out_);
    }
    finish_row(y, up_);
  }
  if (output_ == Output::kValues) value_row_.push_back(value_start_.size());
  if (bytes_.capacity() > (std::size_t{1} << 20)) std::vector<ByteRun>().swap(bytes_);  // one huge image
}

void MaskPngReader::finish_row(std::uint32_t y, const std::vector<Segment>& row) {
  if (output_ == Output::kValues)
    value_row_from(y, row);
  else if (!row.empty() || zero_on_)
    emit_pixels(y, row);
}

// Appends row y's runs of equal values (zero between segments) to the value runs.
void MaskPngReader::value_row_from(std::uint32_t y, const std::vector<Segment>& row) {
  (void)y;
  value_row_.push_back(value_start_.size());
  std::uint32_t x = 0;
  for (const Segment& s : row) {
    if (s.u0 > x) {
      value_start_.push_back(x);
      value_of_.push_back(0);
    }
    value_start_.push_back(s.u0);
    value_of_.push_back(bit_depth_ == 16 ? ((s.v & 255) << 8) | ((s.v >> 8) & 255) : s.v);
    x = s.u1;
  }
  if (x < width_) {
    value_start_.push_back(x);
    value_of_.push_back(0);
  }
}

// The residual segments of the row starting at `row_start` (its filter byte), from bytes_[first].
void MaskPngReader::row_from_bytes(std::size_t first, std::uint64_t row_start) {
  in_.clear();
  const std::uint64_t data_start = row_start + 1, data_end = data_start + row_bytes_;
  std::uint32_t pending_unit = 0, pending = 0;
  bool have_pending = false;
  auto flush = [&] {
    if (have_pending) push(in_, pending_unit, pending_unit + 1, pending);
    have_pending = false;
  };
  auto add_byte = [&](std::uint64_t b, std::uint8_t v) {
    const std::uint32_t unit = static_cast<std::uint32_t>(b / bpp_);
    if (!have_pending || pending_unit != unit) {
      flush();
      pending_unit = unit;
      pending = 0;
      have_pending = true;
    }
    pending |= std::uint32_t{v} << (8 * (b % bpp_));
  };
  for (std::size_t k = first; k < bytes_.size() && bytes_[k].start < data_end; ++k) {
    const std::uint64_t a = std::max(bytes_[k].start, data_start) - data_start,
                        b = std::min(bytes_[k].end(), data_end) - data_start;
    if (a >= b) continue;
    const std::uint8_t v = bytes_[k].value;
    if (bpp_ == 1) {
      push(in_, static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b), v);
      continue;
    }
    const std::uint64_t full0 = (a + bpp_ - 1) / bpp_, full1 = b / bpp_;
    if (full0 >= full1) {
      for (std::uint64_t x = a; x < b; ++x) add_byte(x, v);
      continue;
    }
    for (std::uint64_t x = a; x < full0 * bpp_; ++x) add_byte(x, v);
    flush();
    push(in_, static_cast<std::uint32_t>(full0), static_cast<std::uint32_t>(full1), v * (0x01010101u >> (8 * (4 - bpp_))));
    for (std::uint64_t x = full1 * bpp_; x < b; ++x) add_byte(x, v);
  }
  flush();
}

// Appends the non-zero pixels of a row of unit segments to runs_.
void MaskPngReader::emit_pixels(std::uint32_t y, const std::vector<Segment>& row) {
  auto add = [&](std::uint32_t x0, std::uint32_t x1) {
    x1 = std::min(x1, width_);
    if (x0 >= x1) return;
    if (!runs_.empty() && runs_.back().y == y && runs_.back().x1 == x0)
      runs_.back().x1 = x1;
    else
      runs_.push_back(PixelRun{y, x0, x1});
  };
  std::uint32_t gap = 0;
  if (bit_depth_ >= 8) {
    for (const Segment& s : row) {
      if (zero_on_) add(gap, s.u0);
      gap = s.u1;
      bool on;
      switch (color_type_) {
        case 0: on = true; break;  // every segment is non-zero
        case 3: on = palette_on_[s.v & 255]; break;
        case 4: on = (s.v & 255) != 0; break;
        default: on = luma(s.v & 255, (s.v >> 8) & 255, (s.v >> 16) & 255) != 0;
      }
      if (on) add(s.u0, s.u1);
    }
    if (zero_on_) add(gap, width_);
    return;
  }
  const int per_byte = 8 / bit_depth_, mask = (1 << bit_depth_) - 1;
  for (const Segment& s : row) {
    if (zero_on_) add(gap * per_byte, s.u0 * per_byte);
    gap = s.u1;
    if (color_type_ == 0 && s.v == 0xFFu) {
      add(s.u0 * per_byte, s.u1 * per_byte);
      continue;
    }
    for (std::uint32_t u = s.u0; u < s.u1; ++u)
      for (int p = 0; p < per_byte; ++p) {
        const int value = (s.v >> (8 - bit_depth_ * (p + 1))) & mask;
        if (color_type_ == 3 ? palette_on_[value] : value != 0) add(u * per_byte + p, u * per_byte + p + 1);
      }
  }
  if (zero_on_) add(gap * per_byte, width_);
}

// Images whose data is not mostly zero: every row unfiltered by the label reader.
void MaskPngReader::decode_dense(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels) {
  dense_ = true;
  runs_.clear();
  if (bytes_.capacity() > (std::size_t{1} << 20)) std::vector<ByteRun>().swap(bytes_);
  dense_reader_.open_memory(data, size, name_, max_pixels);
  for (std::uint32_t y = 0; y < height_; ++y) {
    const std::uint8_t* r = dense_reader_.next_row_bytes();
    out_.clear();
    for (std::uint32_t u = 0; u < units_; ++u) {
      std::uint32_t v = 0;
      std::memcpy(&v, r + std::size_t{u} * bpp_, bpp_);
      push(out_, u, u + 1, v);
    }
    finish_row(y, out_);
  }
  if (output_ == Output::kValues) value_row_.push_back(value_start_.size());
  dense_reader_.shrink_if_above(std::size_t{64} << 20);
}

}  // namespace fastpq
