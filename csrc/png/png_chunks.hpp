// What every PNG reader here does before decoding rows: read the file, walk and check its chunks
// (signature, CRCs, lengths, order, critical chunks), find the image data and inflate it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/buffer.hpp"
#include "png/inflate.hpp"

namespace fastpq {

struct PngHeader {
  std::uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  const std::uint8_t* first_idat = nullptr;
  std::size_t idat_total = 0, idat_chunks = 0;
  const std::uint8_t* palette = nullptr;  // the PLTE chunk's body, if any
  std::size_t palette_size = 0;
};

// Reads a whole regular file into `buffer` and returns its size. Throws FileNotFound when it does
// not exist, FormatError otherwise; messages start with "PNG file '<path>': ".
std::size_t read_png_file(const std::string& path, ByteBuffer& buffer);

// Checks every chunk of the PNG bytes and returns the header and where the image data is. Throws
// FormatError "PNG file '<name>': ...". Colour type, bit depth and size are the caller's to check.
PngHeader parse_png_chunks(const std::uint8_t* data, std::size_t size, const std::string& name);

// The image data as one block: the first IDAT chunk's body, or all of them joined in `joined`.
const std::uint8_t* png_image_data(const std::uint8_t* data, const PngHeader& header, ByteBuffer& joined);

// Inflates the image data into exactly `expected` bytes at `raw` (joining several IDAT chunks in
// `joined`); returns the Adler-32 its zlib trailer declares. Throws FormatError naming the file.
std::uint32_t inflate_png_data(const std::uint8_t* data, const PngHeader& header, Inflater& inflater,
                               ByteBuffer& joined, std::uint8_t* raw, std::size_t expected,
                               const std::string& name);

}  // namespace fastpq
