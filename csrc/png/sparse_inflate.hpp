// Inflating a zlib stream into the runs of non-zero bytes of its output, never writing the zero
// bytes: a mostly-zero image (a binary instance mask, whose filtered rows are nearly all zero)
// costs its compressed size, not its 2 MB of pixels. A deflate decoder of its own (RFC 1951):
// matches copy runs, not bytes, so a zero run costs one comparison.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "png/inflate.hpp"

namespace fastpq {

// Bytes [start, start + length) of the output all equal `value` (never 0).
struct ByteRun {
  std::uint64_t start;
  std::uint32_t length;
  std::uint8_t value;
  std::uint64_t end() const { return start + length; }
};

// kTooDense: the output has more than `max_runs` runs; the caller decodes it densely instead.
enum class SparseStatus { kOk, kTooLong, kTooShort, kCorrupt, kTooDense };

// Inflates the zlib stream `in` (header, deflate data, Adler-32 trailer) that must produce exactly
// `expected` bytes into `runs` (sorted, disjoint, neighbours of one value merged) and returns in
// `adler` the checksum its trailer declares. The verdicts are those of Inflater::inflate: a stream
// that ends early is kTooShort, one that would write past `expected` kTooLong, anything else
// malformed (bad header, codes, distances, missing trailer, input exhausted) kCorrupt.
SparseStatus sparse_inflate(const std::uint8_t* in, std::size_t in_size, std::uint64_t expected,
                            std::size_t max_runs, std::vector<ByteRun>& runs, std::uint32_t* adler);

// The Adler-32 of the `size` bytes that `runs` describe (zeros elsewhere).
std::uint32_t adler32_of_runs(const std::vector<ByteRun>& runs, std::uint64_t size);

}  // namespace fastpq
