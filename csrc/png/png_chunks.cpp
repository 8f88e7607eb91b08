#include "png/png_chunks.hpp"

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

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw FormatError("PNG file '" + name + "': " + what);
}

}  // namespace

std::size_t read_png_file(const std::string& path, ByteBuffer& buffer) {
  if (path.find('\0') != std::string::npos) fail(path, "the path contains a NUL byte");
  // Non-blocking, so that a FIFO or device is refused below instead of waiting for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    std::string why = std::string("cannot open: ") + std::strerror(errno);
    if (errno == ENOENT) throw FileNotFound("PNG file '" + path + "': " + why);
    fail(path, why);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  std::size_t size = static_cast<std::size_t>(st.st_size);
  std::uint8_t* data = buffer.reserve(size);
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      fail(path, n == 0 ? "file shrank while being read" : std::string("read failed: ") + std::strerror(err));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return size;
}

PngHeader parse_png_chunks(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) fail(name, "not a PNG file (bad signature)");
  PngHeader h;
  std::size_t pos = 8;
  bool have_header = false, have_end = false, idat_run_over = false;
  while (!have_end) {
    if (size - pos < 12) fail(name, have_header ? "truncated (no IEND chunk)" : "truncated");
    std::uint32_t length = be32(data + pos);
    const std::uint8_t* type = data + pos + 4;
    if (length > 0x7FFFFFFFu) fail(name, "chunk length out of range");
    if (size - pos - 12 < length) fail(name, "truncated in chunk " + chunk_name(type));
    const std::uint8_t* body = type + 4;
    if (crc32_of(type, length + 4) != be32(body + length)) fail(name, "CRC error in chunk " + chunk_name(type));
    bool is_header = std::memcmp(type, "IHDR", 4) == 0;
    if (!have_header && !is_header) fail(name, "first chunk is not IHDR");
    if (is_header) {
      if (have_header) fail(name, "more than one IHDR chunk");
      if (length != 13) fail(name, "IHDR chunk has the wrong length");
      h.width = be32(body);
      h.height = be32(body + 4);
      h.bit_depth = body[8];
      h.color_type = body[9];
      h.interlace = body[12];
      if (h.width == 0 || h.height == 0 || h.width > 0x7FFFFFFFu || h.height > 0x7FFFFFFFu)
        fail(name, "invalid image size " + std::to_string(h.width) + "x" + std::to_string(h.height));
      if (body[10] != 0 || body[11] != 0) fail(name, "unknown compression or filter method");
      if (h.interlace > 1) fail(name, "unknown interlace method");
      have_header = true;
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      // PNG requires the IDAT chunks to be consecutive; Pillow and libpng stop at the first run.
      if (idat_run_over) fail(name, "IDAT chunks are not consecutive (another chunk between them)");
      if (h.idat_chunks == 0) h.first_idat = body;
      ++h.idat_chunks;
      h.idat_total += length;
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      have_end = true;
    } else if (std::memcmp(type, "PLTE", 4) == 0) {
      if (h.color_type == 3 && length > 3 * 256)
        fail(name, "palette of more than 256 entries (PLTE chunk of " + std::to_string(length) + " bytes)");
      if (h.idat_chunks == 0) {  // the specification puts PLTE before IDAT; Pillow ignores a later one
        h.palette = body;
        h.palette_size = length;
      }
    } else if (!(type[0] & 0x20)) {
      fail(name, "unknown critical chunk " + chunk_name(type));
    }
    if (h.idat_chunks > 0 && std::memcmp(type, "IDAT", 4) != 0) idat_run_over = true;
    pos += 12 + std::size_t{length};
  }
  if (h.idat_chunks == 0) fail(name, "no image data (IDAT chunk)");
  return h;
}

const std::uint8_t* png_image_data(const std::uint8_t* data, const PngHeader& h, ByteBuffer& joined) {
  if (h.idat_chunks <= 1) return h.first_idat;
  std::uint8_t* out = joined.reserve(h.idat_total);
  std::size_t at = 0;
  for (std::size_t p = 8; at < h.idat_total;) {
    std::uint32_t length = be32(data + p);
    if (std::memcmp(data + p + 4, "IDAT", 4) == 0) {
      std::memcpy(out + at, data + p + 8, length);
      at += length;
    }
    p += 12 + std::size_t{length};
  }
  return out;
}

std::uint32_t inflate_png_data(const std::uint8_t* data, const PngHeader& h, Inflater& inflater, ByteBuffer& joined,
                               std::uint8_t* raw, std::size_t expected, const std::string& name) {
  const std::uint8_t* compressed = png_image_data(data, h, joined);
  std::uint32_t adler = 0;
  switch (inflater.inflate(compressed, h.idat_total, raw, expected, &adler)) {
    case InflateStatus::kOk:
      break;
    case InflateStatus::kTooLong:
      fail(name, "image data inflates past the size its header declares");
    case InflateStatus::kTooShort:
      fail(name, "image data inflates to less than the size its header declares");
    case InflateStatus::kCorrupt:
      fail(name, "image data is corrupt or truncated (deflate stream error)");
  }
  return adler;
}

}  // namespace fastpq
