// Row access to the label maps of the semantic pass (semantic/confusion.cpp): any source row by
// row, or a greyscale PNG as runs of equal values; and the size check between two maps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/buffer.hpp"
#include "common/errors.hpp"
#include "png/label_png.hpp"
#include "png/png_reader.hpp"
#include "png/png_chunks.hpp"
#include "semantic/confusion.hpp"

namespace fastpq {
namespace semantic_detail {

constexpr std::size_t kKeepBufferBytes = std::size_t{256} << 20;

// Row access to one label source, whatever it is.
class LabelRows {
 public:
  explicit LabelRows(InflateBackend backend) : png_(backend) {}

  void open(const LabelSource& s, std::uint64_t max_pixels) {
    src_ = &s;
    y_ = 0;
    if (s.kind == LabelSource::kArray) {
      height_ = static_cast<std::uint32_t>(s.height);
      width_ = static_cast<std::uint32_t>(s.width);
      if (std::uint64_t{s.height} * s.width > max_pixels)
        throw FormatError("array '" + s.name + "': " + std::to_string(s.width) + "x" + std::to_string(s.height) +
                          " pixels is larger than max_pixels=" + std::to_string(max_pixels));
      return;
    }
    if (s.kind == LabelSource::kFile)
      png_.open_file(s.name, max_pixels);
    else
      png_.open_memory(s.data, s.size, s.name, max_pixels);
    height_ = png_.height();
    width_ = png_.width();
  }

  std::uint32_t height() const { return height_; }
  std::uint32_t width() const { return width_; }
  bool byte_labels() const {
    return src_->kind == LabelSource::kArray ? src_->type == LabelSource::kU8 : png_.byte_labels();
  }
  const LabelSource& source() const { return *src_; }

  // The next row's labels as bytes (byte_labels() only).
  const std::uint8_t* next_bytes() {
    if (src_->kind == LabelSource::kArray) return src_->data + std::size_t{y_++} * width_;
    return png_.next_row_bytes();
  }

  // Whether next_u16 can give this source's rows (labels of at most 16 bits, one sample per pixel).
  bool u16_labels() const {
    if (src_->kind == LabelSource::kArray) return src_->type == LabelSource::kU8 || src_->type == LabelSource::kU16;
    return png_.label_bytes() <= 2 && png_.samples_per_pixel() == 1 && png_.bit_depth() >= 8;
  }

  // The next row's labels as uint16 (u16_labels() only).
  const std::uint16_t* next_u16() {
    const std::size_t w = width_;
    row16_.resize(w);
    std::uint16_t* out = row16_.data();
    if (src_->kind == LabelSource::kArray) {
      const std::size_t at = std::size_t{y_++} * w;
      if (src_->type == LabelSource::kU16) return reinterpret_cast<const std::uint16_t*>(src_->data) + at;
      const std::uint8_t* p = src_->data + at;
      for (std::size_t x = 0; x < w; ++x) out[x] = p[x];
      return out;
    }
    const std::uint8_t* row = png_.next_row_bytes();
    if (png_.label_bytes() == 2) {
      for (std::size_t x = 0; x < w; ++x) out[x] = static_cast<std::uint16_t>((row[2 * x] << 8) | row[2 * x + 1]);
    } else {
      for (std::size_t x = 0; x < w; ++x) out[x] = row[x];
    }
    return out;
  }

  // The next row's labels as int64.
  void next_values(std::int64_t* out) {
    if (src_->kind != LabelSource::kArray) {
      row32_.resize(width_);
      png_.next_row(row32_.data());
      for (std::uint32_t x = 0; x < width_; ++x) out[x] = row32_[x];
      return;
    }
    const std::size_t w = width_, at = std::size_t{y_++} * w;
    switch (src_->type) {
      case LabelSource::kU8: convert(reinterpret_cast<const std::uint8_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI8: convert(reinterpret_cast<const std::int8_t*>(src_->data) + at, w, out); break;
      case LabelSource::kU16: convert(reinterpret_cast<const std::uint16_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI16: convert(reinterpret_cast<const std::int16_t*>(src_->data) + at, w, out); break;
      case LabelSource::kU32: convert(reinterpret_cast<const std::uint32_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI32: convert(reinterpret_cast<const std::int32_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI64: convert(reinterpret_cast<const std::int64_t*>(src_->data) + at, w, out); break;
      case LabelSource::kU64: {
        const std::uint64_t* p = reinterpret_cast<const std::uint64_t*>(src_->data) + at;
        // Values past int64 cannot be labels: they read as -1, outside every table.
        for (std::size_t x = 0; x < w; ++x) out[x] = p[x] > 0x7FFFFFFFFFFFFFFFull ? -1 : static_cast<std::int64_t>(p[x]);
        break;
      }
    }
  }

  void shrink() { png_.shrink_if_above(kKeepBufferBytes); }

 private:
  template <typename T>
  static void convert(const T* p, std::size_t w, std::int64_t* out) {
    for (std::size_t x = 0; x < w; ++x) out[x] = static_cast<std::int64_t>(p[x]);
  }

  LabelPngReader png_;
  const LabelSource* src_ = nullptr;
  std::uint32_t height_ = 0, width_ = 0, y_ = 0;
  std::vector<std::uint32_t> row32_;
  std::vector<std::uint16_t> row16_;
};

// An 8- or 16-bit greyscale PNG label map read as runs of equal values per row, with the panoptic
// reader's row kernels: a row costs a pass over its bytes plus its runs, and a row that repeats
// the one above (an Up row without residual) the pass alone.
struct RunMap {
  explicit RunMap(InflateBackend b) : png(b, PanopticPngReader::Kind::kGrey) {}

  // Opens source `s` when it is a PNG (file or bytes) of 8-bit grey, or 16-bit grey with `sixteen`,
  // not interlaced; returns false, having read nothing, for anything else (the row reader's). The
  // messages are the row reader's; the Adler-32 is checked at the last row rather than on opening.
  bool open(const LabelSource& s, std::uint64_t max_pixels, bool sixteen) {
    active = false;
    if (s.kind == LabelSource::kArray) return false;
    const std::uint8_t* data = s.data;
    std::size_t size = s.size;
    if (s.kind == LabelSource::kFile) {
      size = read_png_file(s.name, file);
      data = file.data();
    }
    // IHDR is the first chunk of any PNG either reader accepts: bit depth, colour type, interlace.
    const bool grey = size >= 29 && std::memcmp(data + 12, "IHDR", 4) == 0 &&
                      (data[24] == 8 || (sixteen && data[24] == 16)) && data[25] == 0 && data[28] == 0;
    if (!grey) return false;
    png.open_memory(data, size, s.name, max_pixels);
    wide = png.channels() == 2;
    active = true;
    return true;
  }

  // Calls f(x0, x1, value) for each run [x0, x1) of the next row, left to right.
  template <typename F>
  void next_row_runs(F&& f) {
    png.next_row();  // false for a row that repeats the one above: its runs are those kept
    std::uint32_t x = 0;
    for (const Run& r : png.row_runs()) {
      // 16-bit samples are big-endian; the kernels pack a pixel's first byte lowest.
      f(x, r.end, wide ? ((r.id & 255u) << 8) | (r.id >> 8) : r.id);
      x = r.end;
    }
  }

  void release() {
    active = false;
    png.shrink_if_above(kKeepBufferBytes);
    file.shrink_if_above(kKeepBufferBytes);
  }

  PanopticPngReader png;
  ByteBuffer file;
  bool active = false;
  bool wide = false;  // 16-bit samples
};

inline std::string size_text(std::uint32_t width, std::uint32_t height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

// A map's name and size, for messages, from either reader.
struct MapSize {
  const std::string& name;
  std::uint32_t width, height;
};

inline MapSize size_of(const LabelRows& r) { return {r.source().name, r.width(), r.height()}; }
inline MapSize size_of(const RunMap& r, const LabelSource& s) { return {s.name, r.png.width(), r.png.height()}; }

inline void check_same_size(const MapSize& a, const char* what_a, const MapSize& b, const char* what_b) {
  if (a.width != b.width || a.height != b.height)
    throw FormatError(std::string("label maps differ in size: ") + what_a + " '" + a.name + "' is " +
                      size_text(a.width, a.height) + " pixels but " + what_b + " '" + b.name + "' is " +
                      size_text(b.width, b.height));
}

}  // namespace semantic_detail
}  // namespace fastpq
