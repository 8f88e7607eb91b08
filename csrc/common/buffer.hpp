// A growable byte buffer that never zero-fills: PNG buffers are written before they are read,
// and clearing megabytes per image would cost as much as decoding them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace fastpq {

class ByteBuffer {
 public:
  // Returns a pointer to at least `n` writable bytes (plus `kPadding` slack for wide loads).
  // Contents are kept only up to the old size when the buffer grows.
  std::uint8_t* reserve(std::size_t n) {
    if (n + kPadding > capacity_) {
      std::size_t cap = capacity_ ? capacity_ : 4096;
      while (cap < n + kPadding) cap *= 2;
      std::unique_ptr<std::uint8_t[]> grown(new std::uint8_t[cap]);
      data_ = std::move(grown);
      capacity_ = cap;
    }
    return data_.get();
  }
  // Frees the memory when it is larger than `limit`, so one huge image does not pin it forever.
  void shrink_if_above(std::size_t limit) {
    if (capacity_ > limit) {
      data_.reset();
      capacity_ = 0;
    }
  }
  std::uint8_t* data() { return data_.get(); }
  std::size_t capacity() const { return capacity_; }

  static constexpr std::size_t kPadding = 64;

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_ = 0;
};

}  // namespace fastpq
