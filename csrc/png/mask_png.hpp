// Reading a binary mask PNG as the runs of its non-zero pixels, as Pillow's convert("L") makes
// them non-zero: grey of 1-16 bits, palette, and 8-bit grey + alpha, RGB and RGBA. Not interlaced.
// The image data is inflated into runs of non-zero bytes (png/sparse_inflate) and every PNG
// filter is undone on runs, so a 1024x2048 mask costs its compressed size, not its 2 MB; an image
// whose data is not mostly zero is decoded densely by LabelPngReader instead. The chunk checks,
// limits and messages are png_chunks' and the label reader's (CRCs, max_pixels, Adler-32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/buffer.hpp"
#include "png/label_png.hpp"
#include "png/sparse_inflate.hpp"

namespace fastpq {

// Pixels [x0, x1) of row y are non-zero.
struct PixelRun {
  std::uint32_t y, x0, x1;
};

class MaskPngReader {
 public:
  // kNonzero: a mask's non-zero pixels, in runs(). kValues: an 8- or 16-bit greyscale image (any
  // other is refused) as runs of equal values, in value_runs().
  enum class Output { kNonzero, kValues };

  // `dense_backend` inflates the images decoded densely.
  explicit MaskPngReader(InflateBackend dense_backend = InflateBackend::kDefault) : dense_reader_(dense_backend) {}

  // Reads a PNG (FileNotFound / FormatError naming it).
  void open_file(const std::string& path, std::uint64_t max_pixels, Output output = Output::kNonzero);
  void open_memory(const std::uint8_t* data, std::size_t size, const std::string& name, std::uint64_t max_pixels,
                   Output output = Output::kNonzero);

  std::uint32_t width() const { return width_; }
  std::uint32_t height() const { return height_; }
  // Sorted by row, then column; runs of one row neither touch nor overlap.
  const std::vector<PixelRun>& runs() const { return runs_; }
  // Forgets the image read, giving back the memory of a huge one (readers live on in worker threads).
  void trim();
  // kValues: run k of row y starts at value_start()[k] and holds value_of()[k]; row y's runs are
  // [value_row()[y], value_row()[y + 1]), the first starting at 0, the last ending at the width.
  const std::vector<std::uint32_t>& value_start() const { return value_start_; }
  const std::vector<std::uint32_t>& value_of() const { return value_of_; }
  const std::vector<std::size_t>& value_row() const { return value_row_; }
  // Decodes every image densely (the check the fuzz harness compares the run decoding with).
  void force_dense(bool on) { force_dense_ = on; }
  // Whether the last image was decoded densely (its data was not mostly zero).
  bool was_dense() const { return dense_; }

  // A unit of the filter: one pixel (bit depth >= 8) or one byte; `v` packs its bytes, the first
  // in the low byte. Segments of a row are sorted and disjoint; units outside them are zero.
  struct Segment {
    std::uint32_t u0, u1, v;
  };

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void decode(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);
  void finish_row(std::uint32_t y, const std::vector<Segment>& row);
  void value_row_from(std::uint32_t y, const std::vector<Segment>& row);
  void decode_dense(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);
  void row_from_bytes(std::size_t first, std::uint64_t row_start);
  void emit_pixels(std::uint32_t y, const std::vector<Segment>& row);

  ByteBuffer file_, idat_;
  LabelPngReader dense_reader_;
  std::vector<ByteRun> bytes_;
  std::vector<Segment> in_, up_, out_;
  std::vector<PixelRun> runs_;
  std::vector<std::uint32_t> value_start_, value_of_;
  std::vector<std::size_t> value_row_;
  Output output_ = Output::kNonzero;
  std::string name_;
  std::uint32_t width_ = 0, height_ = 0;
  int bit_depth_ = 0, color_type_ = 0, bpp_ = 1;
  std::size_t row_bytes_ = 0, units_ = 0;
  bool dense_ = false, force_dense_ = false;
  bool zero_on_ = false;  // palette entry 0 is not black: zero units are non-zero pixels
  std::uint8_t palette_on_[256] = {};
};

}  // namespace fastpq
