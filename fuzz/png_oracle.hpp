// An independent, byte-by-byte PNG decoder for the harnesses' oracle, written from the PNG
// specification (chunk layout, zlib stream, the five filters): the reader under test works on runs
// and SIMD vectors; this one reconstructs every byte, so the two share nothing but zlib.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace fastpq_fuzz {

inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// Rewrites every complete chunk's CRC so that mutations get past the CRC check.
inline std::string with_fixed_crcs(std::string png) {
  std::size_t pos = 8;
  while (png.size() >= pos + 12) {
    const std::uint32_t length = be32(reinterpret_cast<const std::uint8_t*>(png.data() + pos));
    if (length > png.size() - pos - 12) break;
    const auto* type = reinterpret_cast<const Bytef*>(png.data() + pos + 4);
    const std::uint32_t crc = static_cast<std::uint32_t>(::crc32(0, type, length + 4));
    for (int k = 0; k < 4; ++k) png[pos + 8 + length + k] = static_cast<char>(crc >> (24 - 8 * k));
    pos += 12 + std::size_t{length};
  }
  return png;
}

struct Decoded {
  bool ok = false;  // false: zlib found the stream broken or of the wrong length
  std::uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<std::uint8_t> raw;    // the inflated rows, filter bytes included
  std::vector<std::uint32_t> ids;   // id = R + 256 G + 65536 B (grey: the sample) per pixel, row-major
};

// The header fields and the joined image data of a PNG the reader accepted.
struct Chunks {
  std::uint32_t width = 0, height = 0;
  int depth = 0, colour = 0;
  std::string idat;
};

inline Chunks walk_chunks(const std::uint8_t* data, std::size_t size) {
  Chunks out;
  for (std::size_t pos = 8; pos + 12 <= size;) {
    const std::uint32_t length = be32(data + pos);
    const char* type = reinterpret_cast<const char*>(data + pos + 4);
    const std::uint8_t* body = data + pos + 8;
    if (std::memcmp(type, "IHDR", 4) == 0) {
      out.width = be32(body);
      out.height = be32(body + 4);
      out.depth = body[8];
      out.colour = body[9];
    } else if (std::memcmp(type, "IDAT", 4) == 0) {
      out.idat.append(reinterpret_cast<const char*>(body), length);
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      break;
    }
    pos += 12 + std::size_t{length};
  }
  return out;
}

// Decodes a PNG that the reader accepted as a panoptic map (8-bit RGB / RGBA) or as a grey map
// (8- or 16-bit grey, values big-endian), so its chunks, header and sizes are known to be
// well-formed.
inline Decoded reference_decode(const std::uint8_t* data, std::size_t size) {
  Decoded out;
  Chunks chunks = walk_chunks(data, size);
  const std::uint32_t width = chunks.width, height = chunks.height;
  const int channels = chunks.colour == 0 ? chunks.depth / 8 : chunks.colour == 6 ? 4 : 3;
  std::string& idat = chunks.idat;
  const std::size_t stride = std::size_t{width} * channels + 1;
  // One byte of room beyond the image, so that a stream longer than the image cannot look complete.
  std::vector<std::uint8_t> raw(stride * height + 1);
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) std::abort();
  zs.next_in = reinterpret_cast<Bytef*>(idat.data());
  zs.avail_in = static_cast<uInt>(idat.size());
  zs.next_out = raw.data();
  zs.avail_out = static_cast<uInt>(raw.size());
  const int rc = ::inflate(&zs, Z_FINISH);
  const bool complete = rc == Z_STREAM_END && zs.total_out == stride * height;
  raw.resize(stride * height);
  inflateEnd(&zs);
  if (!complete) return out;

  std::vector<std::uint8_t> prior(stride - 1, 0), line(stride - 1);
  std::vector<std::uint32_t> ids(std::size_t{width} * height);
  for (std::uint32_t y = 0; y < height; ++y) {
    const std::uint8_t* row = raw.data() + y * stride;
    for (std::size_t i = 0; i + 1 < stride; ++i) {
      const int a = i >= static_cast<std::size_t>(channels) ? line[i - channels] : 0;
      const int b = prior[i];
      const int c = i >= static_cast<std::size_t>(channels) ? prior[i - channels] : 0;
      int predicted = 0;
      switch (row[0]) {
        case 1: predicted = a; break;
        case 2: predicted = b; break;
        case 3: predicted = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          predicted = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default: break;
      }
      line[i] = static_cast<std::uint8_t>(row[1 + i] + predicted);
    }
    for (std::uint32_t x = 0; x < width; ++x) {
      const std::uint8_t* px = line.data() + std::size_t{x} * channels;
      ids[std::size_t{y} * width + x] = channels == 1   ? px[0]
                                        : channels == 2 ? (std::uint32_t{px[0]} << 8) | px[1]
                                                        : px[0] | (std::uint32_t{px[1]} << 8) | (std::uint32_t{px[2]} << 16);
    }
    prior.swap(line);
  }
  out.ok = true;
  out.width = width;
  out.height = height;
  out.channels = channels;
  out.raw = std::move(raw);
  out.ids = std::move(ids);
  return out;
}

// The labels of a label-map PNG the label reader accepted, decoded byte by byte: grey or palette
// samples of 1-16 bits (2- and 4-bit grey scaled to 8 bits, times 85 and 17, as Pillow reads
// them; palette indices and 1-bit grey as they are), grey + alpha (the grey sample), RGB / RGBA
// colour codes R + 256 G + 65536 B. Empty when zlib finds the stream broken or of the wrong length.
inline std::vector<std::uint32_t> reference_labels(const std::uint8_t* data, std::size_t size) {
  const Chunks chunks = walk_chunks(data, size);
  const std::uint32_t width = chunks.width, height = chunks.height;
  const int depth = chunks.depth, colour = chunks.colour;
  const std::string& idat = chunks.idat;
  const int samples = colour == 2 ? 3 : colour == 6 ? 4 : colour == 4 ? 2 : 1;
  const std::size_t row = (std::size_t{width} * samples * depth + 7) / 8;
  const std::size_t bpp = std::max<std::size_t>(1, std::size_t(samples) * depth / 8);
  std::vector<std::uint8_t> raw((row + 1) * height + 1);
  uLongf got = static_cast<uLongf>(raw.size());
  if (::uncompress(raw.data(), &got, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) !=
          Z_OK ||
      got != (row + 1) * height)
    return {};
  std::vector<std::uint8_t> prior(row, 0), line(row);
  std::vector<std::uint32_t> labels;
  labels.reserve(std::size_t{width} * height);
  for (std::uint32_t y = 0; y < height; ++y) {
    const std::uint8_t* in = raw.data() + y * (row + 1);
    for (std::size_t i = 0; i < row; ++i) {
      const int a = i >= bpp ? line[i - bpp] : 0, b = prior[i], c = i >= bpp ? prior[i - bpp] : 0;
      int predicted = 0;
      if (in[0] == 1) predicted = a;
      if (in[0] == 2) predicted = b;
      if (in[0] == 3) predicted = (a + b) / 2;
      if (in[0] == 4) {
        const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
        predicted = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
      }
      line[i] = static_cast<std::uint8_t>(in[1 + i] + predicted);
    }
    for (std::uint32_t x = 0; x < width; ++x) {
      if (samples >= 3) {
        const std::uint8_t* px = line.data() + std::size_t{x} * samples;
        labels.push_back(px[0] | (std::uint32_t{px[1]} << 8) | (std::uint32_t{px[2]} << 16));
      } else if (depth == 16) {
        const std::uint8_t* px = line.data() + std::size_t{x} * samples * 2;
        labels.push_back((std::uint32_t{px[0]} << 8) | px[1]);
      } else {
        const std::size_t bit = std::size_t{x} * samples * depth;
        const std::uint32_t scale = colour == 0 && depth == 2 ? 85 : colour == 0 && depth == 4 ? 17 : 1;
        labels.push_back(((line[bit / 8] >> (8 - depth - bit % 8)) & ((1u << depth) - 1)) * scale);
      }
    }
    prior.swap(line);
  }
  return labels;
}

}  // namespace fastpq_fuzz
