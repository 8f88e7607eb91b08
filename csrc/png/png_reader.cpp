#include "png/png_reader.hpp"

#include <cstring>

#include "common/errors.hpp"
#include "png/png_chunks.hpp"


namespace fastpq {

PanopticPngReader::PanopticPngReader(InflateBackend backend, Kind kind)
    : inflater_(backend), kernels_(row_kernels()), kind_(kind) {}

void PanopticPngReader::fail(const std::string& what) const {
  throw FormatError("PNG file '" + name_ + "': " + what);
}

void PanopticPngReader::open_file(const std::string& path, std::uint64_t max_pixels) {
  name_ = path;
  std::size_t size = read_png_file(path, file_);
  parse_and_inflate(file_.data(), size, max_pixels);
}

void PanopticPngReader::open_memory(const std::uint8_t* data, std::size_t size,
                                    const std::string& name, std::uint64_t max_pixels) {
  name_ = name;
  parse_and_inflate(data, size, max_pixels);
}

void PanopticPngReader::parse_and_inflate(const std::uint8_t* data, std::size_t size,
                                          std::uint64_t max_pixels) {
  const PngHeader h = parse_png_chunks(data, size, name_);
  width_ = h.width;
  height_ = h.height;
  const int color_type = h.color_type, bit_depth = h.bit_depth, interlace = h.interlace;
  if (kind_ == Kind::kGrey) {
    if (color_type != 0 || (bit_depth != 8 && bit_depth != 16))
      fail("is colour type " + std::to_string(color_type) + " at bit depth " + std::to_string(bit_depth) +
           "; this reader reads 8- or 16-bit greyscale");
    if (interlace != 0) fail("is interlaced (Adam7); label maps must not be interlaced");
  } else {
    const char* kind = nullptr;
    if (color_type == 3) kind = "palette";
    else if (color_type == 0 || color_type == 4) kind = "greyscale";
    else if (color_type != 2 && color_type != 6) fail("invalid colour type " + std::to_string(color_type));
    if (kind)
      fail(std::string("is a ") + kind +
           " image; panoptic maps must be 8-bit RGB or RGBA (id = R + 256*G + 65536*B)");
    if (bit_depth != 8)
      fail("has bit depth " + std::to_string(bit_depth) + "; panoptic maps must be 8-bit RGB or RGBA");
    if (interlace != 0) fail("is interlaced (Adam7); panoptic maps must not be interlaced");
  }
  std::uint64_t pixels = std::uint64_t{width_} * height_;
  if (pixels > max_pixels)
    fail("image of " + std::to_string(width_) + "x" + std::to_string(height_) +
         " pixels is larger than max_pixels=" + std::to_string(max_pixels));

  channels_ = kind_ == Kind::kGrey ? bit_depth / 8 : color_type == 6 ? 4 : 3;
  row_bytes_ = std::size_t{width_} * channels_;
  std::size_t expected = (row_bytes_ + 1) * height_;
  declared_adler_ = inflate_png_data(data, h, inflater_, idat_, raw_.reserve(expected), expected, name_);
  zero_run_ = {width_, 0};
  adler_ = 1;
  const std::size_t words = row_scratch_words(width_, channels_);
  if (words > nonzero_words_) {
    nonzero_bits_.reset(new std::uint32_t[words]);
    nonzero_words_ = words;
  }
  next_row_ = 0;
  current_ = 0;
}

bool PanopticPngReader::next_row() {
  if (next_row_ >= height_) fail("read past the last row");
  const std::uint8_t* in = raw_.data() + std::size_t{next_row_} * (row_bytes_ + 1);
  const std::uint8_t filter = in[0];
  if (filter > 4) fail("invalid filter type " + std::to_string(filter) + " in row " + std::to_string(next_row_));
  const Run* up = next_row_ == 0 ? &zero_run_ : runs_[current_].begin();
  ++next_row_;
  RowRuns& target = runs_[current_ ^ 1];
  Run* out = target.prepare(std::size_t{width_} + 1);
  // The kernel folds the row into the Adler-32 as it reads it: no pass of its own over the image.
  std::size_t count = kernels_.decode_row(in, width_, channels_, up, out, &adler_, nonzero_bits_.get());
  if (next_row_ == height_ && adler_ != declared_adler_) fail("image data is corrupt (Adler-32 checksum mismatch)");
  if (count == 0) {  // the row above, repeated
    if (next_row_ > 1) return false;
    out[0] = zero_run_;
    count = 1;
  }
  target.set_size(count);
  current_ ^= 1;
  return true;
}

void PanopticPngReader::next_row_ids(std::uint32_t* ids) {
  next_row();
  std::uint32_t x = 0;
  for (const Run& run : row_runs())
    for (; x < run.end; ++x) ids[x] = run.id;
}

void StoredRows::read(PanopticPngReader& reader) {
  width_ = reader.width();
  height_ = reader.height();
  name_ = reader.name();
  runs_.clear();
  count_.assign(height_, 0);
  failed_row_ = height_;
  next_ = 0;
  row_begin_ = row_count_ = 0;
  for (std::uint32_t y = 0; y < height_; ++y) {
    try {
      if (!reader.next_row()) continue;
    } catch (const FormatError& e) {
      failed_row_ = y;
      error_ = e.what();
      return;
    }
    const RowRuns& row = reader.row_runs();
    count_[y] = static_cast<std::uint32_t>(row.size());
    runs_.insert(runs_.end(), row.begin(), row.end());
  }
}

bool StoredRows::next_row() {
  if (next_ >= height_) throw FormatError("PNG file '" + name_ + "': read past the last row");
  if (next_ == failed_row_) throw FormatError(error_);
  const std::uint32_t count = count_[next_++];
  if (count == 0) return false;
  row_begin_ += row_count_;
  row_count_ = count;
  return true;
}

void StoredRows::shrink_if_above(std::size_t limit) {
  if (runs_.capacity() * sizeof(Run) > limit) std::vector<Run>().swap(runs_);
}

void PanopticPngReader::shrink_if_above(std::size_t limit) {
  for (ByteBuffer* b : {&file_, &idat_, &raw_}) b->shrink_if_above(limit);
}

}  // namespace fastpq
