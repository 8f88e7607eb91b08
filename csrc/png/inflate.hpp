// Inflating a zlib stream whose decompressed size is known in advance (a PNG's IDAT data),
// with libdeflate when the build has it, zlib otherwise or on request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fastpq {

enum class InflateBackend { kDefault, kLibdeflate, kZlib };

enum class InflateStatus { kOk, kTooLong, kTooShort, kCorrupt };

// Name of the backend that kDefault resolves to: "libdeflate" or "zlib".
const char* default_inflate_backend_name();
bool have_libdeflate();
// Parses "libdeflate", "zlib" or "" (default); throws UsageError for anything else
// or for libdeflate when the build lacks it.
InflateBackend parse_inflate_backend(const std::string& name);

// One per thread: holds the decompressor state so it is allocated once.
class Inflater {
 public:
  explicit Inflater(InflateBackend backend = InflateBackend::kDefault);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates the zlib stream `in` into exactly `expected` bytes at `out` and returns, in
  // `adler`, the Adler-32 its trailer declares. The checksum itself is left to the caller, who
  // reads the output anyway: checking it here would be a separate pass over all of it.
  InflateStatus inflate(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out,
                        std::size_t expected, std::uint32_t* adler);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Adler-32 as zlib streams use it (libdeflate's vectorised one when the build has it).
std::uint32_t adler32_of(const std::uint8_t* data, std::size_t size, std::uint32_t adler = 1);

// CRC-32 as PNG chunks use it.
std::uint32_t crc32_of(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);

}  // namespace fastpq
