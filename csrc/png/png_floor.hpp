// The floor under any PNG scorer: reading each file and inflating its image data, nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "png/inflate.hpp"

namespace fastpq {

struct InflateFloor {
  std::uint64_t files = 0, compressed_bytes = 0, inflated_bytes = 0;
};

// Reads every file, checks its chunks and inflates its image data into per-thread buffers reused
// from file to file, on `workers` threads (0: all cores): the work every PNG decoder must do before
// its first row, without unfiltering, the Adler-32 check or any use of the pixels. Throws
// FileNotFound / FormatError for the first file in order that cannot be read or inflated.
InflateFloor inflate_png_files(const std::vector<std::string>& paths, int workers, std::uint64_t max_pixels,
                               InflateBackend backend);

}  // namespace fastpq
