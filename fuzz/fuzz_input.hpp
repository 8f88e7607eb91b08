// The byte format the structured harnesses read their inputs in, front to back: little-endian
// integers and doubles, reads past the end give zeros, so every input is a valid one. The seed
// corpus is written in this format by fuzz/make_corpus.py and replayed from Python by
// tests/core/test_fuzz_corpus.py; keep the three in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace fastpq_fuzz {

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(take(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(take(4)); }
  std::uint64_t u64() { return take(8); }
  double f64() {
    std::uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  // `n` bytes, fewer when the input ends first.
  std::string bytes(std::size_t n) {
    n = n < size_ - pos_ ? n : size_ - pos_;
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  // A string with a 16-bit length in front.
  std::string str16() { return bytes(u16()); }
  std::size_t left() const { return size_ - pos_; }

 private:
  std::uint64_t take(int n) {
    std::uint64_t v = 0;
    for (int k = 0; k < n && pos_ < size_; ++k) v |= std::uint64_t{data_[pos_++]} << (8 * k);
    return v;
  }
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// A coordinate or measure: mostly a small multiple of 1/8 near an image, sometimes anything a double
// can be (NaN, infinities, subnormals, huge), sometimes large but finite.
inline double fuzz_double(ByteReader& in) {
  const std::uint8_t tag = in.u8();
  switch (tag % 4) {
    case 0: return in.f64();
    case 3: return static_cast<double>(static_cast<std::int32_t>(in.u32())) / 4.0;
    default: return static_cast<double>(static_cast<std::int16_t>(in.u16())) / 8.0;
  }
}

// Stops the harness with a message when an invariant of the code under test does not hold.
[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "fastpq fuzz finding: %s\n", what);
  std::abort();
}

}  // namespace fastpq_fuzz
