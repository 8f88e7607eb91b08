#include "png/png_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errors.hpp"


namespace fastpq {
namespace {

constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// A chunk type for messages: letters as they are, anything else as \xNN.
std::string chunk_name(const std::uint8_t* p) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 4; ++i) {
    char c = static_cast<char>(p[i]);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      s += c;
    } else {
      s += "\\x";
      s += kHex[p[i] >> 4];
      s += kHex[p[i] & 15];
    }
  }
  return s;
}

}  // namespace

PanopticPngReader::PanopticPngReader(InflateBackend backend) : inflater_(backend), kernels_(row_kernels()) {}

void PanopticPngReader::fail(const std::string& what) const {
  throw FormatError("PNG file '" + name_ + "': " + what);
}

void PanopticPngReader::open_file(const std::string& path, std::uint64_t max_pixels) {
  name_ = path;
  if (path.find('\0') != std::string::npos) fail("the path contains a NUL byte");
  // Non-blocking, so that a FIFO or device is refused below instead of waiting for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    std::string why = std::string("cannot open: ") + std::strerror(errno);
    if (errno == ENOENT) throw FileNotFound("PNG file '" + name_ + "': " + why);
    fail(why);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("not a regular file");
  }
  std::size_t size = static_cast<std::size_t>(st.st_size);
  std::uint8_t* data = file_.reserve(size);
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      fail(n == 0 ? "file shrank while being read" : std::string("read failed: ") + std::strerror(err));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  parse_and_inflate(data, size, max_pixels);
}

void PanopticPngReader::open_memory(const std::uint8_t* data, std::size_t size,
                                    const std::string& name, std::uint64_t max_pixels) {
  name_ = name;
  parse_and_inflate(data, size, max_pixels);
}

void PanopticPngReader::parse_and_inflate(const std::uint8_t* data, std::size_t size,
                                          std::uint64_t max_pixels) {
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) fail("not a PNG file (bad signature)");
  std::size_t pos = 8;
  bool have_header = false, have_end = false;
  const std::uint8_t* first_idat = nullptr;
  std::size_t idat_total = 0, idat_chunks = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;

  // First pass: check every chunk; remember where the image data is.
  while (!have_end) {
    if (size - pos < 12) fail(have_header ? "truncated (no IEND chunk)" : "truncated");
    std::uint32_t length = be32(data + pos);
    const std::uint8_t* type = data + pos + 4;
    if (length > 0x7FFFFFFFu) fail("chunk length out of range");
    if (size - pos - 12 < length) fail("truncated in chunk " + chunk_name(type));
    const std::uint8_t* body = type + 4;
    if (crc32_of(type, length + 4) != be32(body + length))
      fail("CRC error in chunk " + chunk_name(type));
    bool is_header = std::memcmp(type, "IHDR", 4) == 0;
    if (!have_header && !is_header) fail("first chunk is not IHDR");
    if (is_header) {
      if (have_header) fail("more than one IHDR chunk");
      if (length != 13) fail("IHDR chunk has the wrong length");
      width_ = be32(body);
      height_ = be32(body + 4);
      bit_depth = body[8];
      color_type = body[9];
      interlace = body[12];
      if (width_ == 0 || height_ == 0 || width_ > 0x7FFFFFFFu || height_ > 0x7FFFFFFFu)
        fail("invalid image size " + std::to_string(width_) + "x" + std::to_string(height_));
      if (body[10] != 0 || body[11] != 0) fail("unknown compression or filter method");
      if (interlace > 1) fail("unknown interlace method");
      have_header = true;
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      if (idat_chunks == 0) first_idat = body;
      ++idat_chunks;
      idat_total += length;
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      have_end = true;
    } else if (!(type[0] & 0x20) && std::memcmp(type, "PLTE", 4) != 0) {
      fail("unknown critical chunk " + chunk_name(type));
    }
    pos += 12 + std::size_t{length};
  }
  if (idat_chunks == 0) fail("no image data (IDAT chunk)");

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
  std::uint64_t pixels = std::uint64_t{width_} * height_;
  if (pixels > max_pixels)
    fail("image of " + std::to_string(width_) + "x" + std::to_string(height_) +
         " pixels is larger than max_pixels=" + std::to_string(max_pixels));

  channels_ = color_type == 6 ? 4 : 3;
  row_bytes_ = std::size_t{width_} * channels_;
  std::size_t expected = (row_bytes_ + 1) * height_;

  const std::uint8_t* compressed = first_idat;
  if (idat_chunks > 1) {
    std::uint8_t* joined = idat_.reserve(idat_total);
    std::size_t at = 0;
    for (std::size_t p = 8; at < idat_total;) {
      std::uint32_t length = be32(data + p);
      if (std::memcmp(data + p + 4, "IDAT", 4) == 0) {
        std::memcpy(joined + at, data + p + 8, length);
        at += length;
      }
      p += 12 + std::size_t{length};
    }
    compressed = joined;
  }
  switch (inflater_.inflate(compressed, idat_total, raw_.reserve(expected), expected, &declared_adler_)) {
    case InflateStatus::kOk:
      break;
    case InflateStatus::kTooLong:
      fail("image data inflates past the size its header declares");
    case InflateStatus::kTooShort:
      fail("image data inflates to less than the size its header declares");
    case InflateStatus::kCorrupt:
      fail("image data is corrupt or truncated (deflate stream error)");
  }
  zero_run_ = {width_, 0};
  adler_ = 1;
  const std::size_t words = (row_bytes_ + 1) / 32 + 1;
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

void PanopticPngReader::shrink_if_above(std::size_t limit) {
  for (ByteBuffer* b : {&file_, &idat_, &raw_}) b->shrink_if_above(limit);
}

}  // namespace fastpq
