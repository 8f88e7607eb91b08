#include "instance/grey_png.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/errors.hpp"

namespace fastpq {
namespace {

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Pillow's RGB -> L luminance (fixed point, rounded).
int luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

void unfilter(std::uint8_t* row, const std::uint8_t* up, std::size_t n, std::size_t bpp, int type) {
  switch (type) {
    case 0: break;
    case 1: for (std::size_t i = bpp; i < n; ++i) row[i] = static_cast<std::uint8_t>(row[i] + row[i - bpp]); break;
    case 2: if (up) for (std::size_t i = 0; i < n; ++i) row[i] = static_cast<std::uint8_t>(row[i] + up[i]); break;
    case 3:
      for (std::size_t i = 0; i < n; ++i) {
        int a = i >= bpp ? row[i - bpp] : 0, b = up ? up[i] : 0;
        row[i] = static_cast<std::uint8_t>(row[i] + ((a + b) >> 1));
      }
      break;
    case 4:
      for (std::size_t i = 0; i < n; ++i) {
        int a = i >= bpp ? row[i - bpp] : 0, b = up ? up[i] : 0, c = (up && i >= bpp) ? up[i - bpp] : 0;
        int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        int pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
        row[i] = static_cast<std::uint8_t>(row[i] + pred);
      }
      break;
  }
}

}  // namespace

void GreyPngReader::fail(const std::string& what) const { throw FormatError("PNG file '" + name_ + "': " + what); }

void GreyPngReader::open_file(const std::string& path, std::uint64_t max_pixels) {
  name_ = path;
  if (path.find('\0') != std::string::npos) fail("the path contains a NUL byte");
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
  std::size_t size = static_cast<std::size_t>(st.st_size), got = 0;
  std::uint8_t* data = file_.reserve(size);
  while (got < size) {
    ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("read failed or file shrank");
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  parse(data, size, max_pixels);
}

void GreyPngReader::open_memory(const std::uint8_t* data, std::size_t size, const std::string& name,
                                std::uint64_t max_pixels) {
  name_ = name;
  parse(data, size, max_pixels);
}

void GreyPngReader::parse(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels) {
  static const std::uint8_t kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size < 8 || std::memcmp(data, kSig, 8) != 0) fail("not a PNG file (bad signature)");
  std::size_t pos = 8, idat_total = 0;
  bool header = false, end = false;
  int interlace = 0;
  std::memset(palette_nonzero_, 0, sizeof palette_nonzero_);
  std::vector<std::pair<const std::uint8_t*, std::uint32_t>> idats;
  while (!end) {
    if (size - pos < 12) fail("truncated");
    std::uint32_t len = be32(data + pos);
    const std::uint8_t* type = data + pos + 4;
    if (len > 0x7FFFFFFFu || size - pos - 12 < len) fail("truncated chunk");
    const std::uint8_t* body = type + 4;
    if (crc32_of(type, len + 4) != be32(body + len)) fail("CRC error");
    bool is_header = std::memcmp(type, "IHDR", 4) == 0;
    if (!header && !is_header) fail("first chunk is not IHDR");
    if (is_header) {
      if (header || len != 13) fail("bad IHDR chunk");
      width_ = be32(body);
      height_ = be32(body + 4);
      bit_depth_ = body[8];
      color_type_ = body[9];
      interlace = body[12];
      if (width_ == 0 || height_ == 0 || width_ > 0x7FFFFFFFu || height_ > 0x7FFFFFFFu) fail("invalid image size");
      if (body[10] != 0 || body[11] != 0) fail("unknown compression or filter method");
      header = true;
    } else if (std::memcmp(type, "PLTE", 4) == 0) {
      for (std::uint32_t i = 0; i < len / 3 && i < 256; ++i)
        palette_nonzero_[i] = luma(body[3 * i], body[3 * i + 1], body[3 * i + 2]) != 0;
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      idats.emplace_back(body, len);
      idat_total += len;
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      end = true;
    } else if (!(type[0] & 0x20)) {
      fail("unknown critical chunk");
    }
    pos += 12 + std::size_t{len};
  }
  if (idats.empty()) fail("no image data (IDAT chunk)");
  if (interlace != 0) fail("is interlaced (Adam7), which fastpq's mask reader does not read");
  const int d = bit_depth_;
  switch (color_type_) {
    case 0: if (d != 1 && d != 2 && d != 4 && d != 8 && d != 16) fail("invalid bit depth"); channels_ = 1; break;
    case 3: if (d != 1 && d != 2 && d != 4 && d != 8) fail("invalid bit depth"); channels_ = 1; break;
    case 2: case 4: case 6:
      if (d != 8) fail("colour PNGs with bit depth " + std::to_string(d) + " are not read");
      channels_ = color_type_ == 2 ? 3 : (color_type_ == 4 ? 2 : 4);
      break;
    default: fail("invalid colour type " + std::to_string(color_type_));
  }
  if (std::uint64_t{width_} * height_ > max_pixels) fail("image larger than max_pixels");
  stride_ = (std::size_t{width_} * channels_ * d + 7) / 8;
  std::size_t expected = (stride_ + 1) * std::size_t{height_};
  const std::uint8_t* z = idats[0].first;
  if (idats.size() > 1) {
    std::uint8_t* joined = idat_.reserve(idat_total);
    std::size_t at = 0;
    for (auto& c : idats) {
      std::memcpy(joined + at, c.first, c.second);
      at += c.second;
    }
    z = joined;
  }
  std::uint32_t adler = 0;
  std::uint8_t* raw = raw_.reserve(expected);
  if (inflater_.inflate(z, idat_total, raw, expected, &adler) != InflateStatus::kOk)
    fail("image data is corrupt or has the wrong size");
  const std::size_t bpp = std::max<std::size_t>(1, std::size_t(channels_) * d / 8);
  for (std::uint32_t y = 0; y < height_; ++y) {
    std::uint8_t* row = raw + std::size_t{y} * (stride_ + 1);
    if (row[0] > 4) fail("invalid filter type in row " + std::to_string(y));
    unfilter(row + 1, y ? row + 1 - (stride_ + 1) : nullptr, stride_, bpp, row[0]);
  }
}

void GreyPngReader::row_values(std::uint32_t y, std::uint32_t* out) const {
  const std::uint8_t* r = const_cast<ByteBuffer&>(raw_).data() + std::size_t{y} * (stride_ + 1) + 1;
  if (bit_depth_ == 16)
    for (std::uint32_t x = 0; x < width_; ++x) out[x] = (std::uint32_t{r[2 * x]} << 8) | r[2 * x + 1];
  else
    for (std::uint32_t x = 0; x < width_; ++x) out[x] = r[x];
}

bool GreyPngReader::row_nonzero(std::uint32_t y, std::uint8_t* out, std::uint32_t* x0,
                                std::uint32_t* x1) const {
  const std::uint8_t* r = const_cast<ByteBuffer&>(raw_).data() + std::size_t{y} * (stride_ + 1) + 1;
  const int d = bit_depth_;
  const std::size_t bits = std::size_t(channels_) * d;  // per pixel
  std::uint32_t from = 0, to = width_;
  if (color_type_ != 3 || !palette_nonzero_[0]) {  // all-zero bytes are then all-zero pixels
    std::size_t b0 = 0, b1 = stride_;
    while (b0 + 8 <= stride_) {
      std::uint64_t word;
      std::memcpy(&word, r + b0, 8);
      if (word) break;
      b0 += 8;
    }
    while (b0 < stride_ && !r[b0]) ++b0;
    if (b0 == stride_) return false;
    while (b1 > b0 && !r[b1 - 1]) --b1;
    from = static_cast<std::uint32_t>(b0 * 8 / bits);
    to = static_cast<std::uint32_t>(std::min<std::size_t>(width_, (b1 * 8 + bits - 1) / bits));
  }
  *x0 = from;
  *x1 = to;
  if (color_type_ == 0 && d == 8) {
    for (std::uint32_t x = from; x < to; ++x) out[x] = r[x] != 0;
  } else if (color_type_ == 3 && d == 8) {
    for (std::uint32_t x = from; x < to; ++x) out[x] = palette_nonzero_[r[x]];
  } else if (d == 16) {
    for (std::uint32_t x = from; x < to; ++x) out[x] = (r[2 * x] | r[2 * x + 1]) != 0;
  } else if (d < 8) {
    const int mask = (1 << d) - 1;
    for (std::uint32_t x = from; x < to; ++x) {
      const std::size_t bit = std::size_t{x} * d;
      const int v = (r[bit >> 3] >> (8 - d - (bit & 7))) & mask;
      out[x] = color_type_ == 3 ? palette_nonzero_[v] : v != 0;
    }
  } else if (color_type_ == 4) {
    for (std::uint32_t x = from; x < to; ++x) out[x] = r[2 * x] != 0;
  } else {
    for (std::uint32_t x = from; x < to; ++x) {
      const std::uint8_t* p = r + std::size_t{x} * channels_;
      out[x] = luma(p[0], p[1], p[2]) != 0;
    }
  }
  return true;
}

}  // namespace fastpq
