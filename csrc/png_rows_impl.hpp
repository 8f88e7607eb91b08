// The row kernels, written once; the vector width follows the including file's compiler flags
// (AVX2: 32 bytes, SSE2: 16, otherwise portable code). Included by one .cpp per instruction set;
// everything here has internal linkage.
#include <cstring>

#include "png_rows.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {

using fastpq::Run;

#if defined(__AVX2__)
constexpr std::size_t kVec = 32;
inline std::uint64_t zero_bytes(const std::uint8_t* p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256())));
}
inline std::uint64_t same_bytes(const std::uint8_t* a, const std::uint8_t* b) {
  __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y)));
}
#elif defined(__SSE2__)
constexpr std::size_t kVec = 16;
inline std::uint64_t zero_bytes(const std::uint8_t* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())));
}
inline std::uint64_t same_bytes(const std::uint8_t* a, const std::uint8_t* b) {
  __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)));
}
#else
constexpr std::size_t kVec = 16;
inline std::uint64_t zero_bytes(const std::uint8_t* p) {
  std::uint64_t m = 0;
  for (std::size_t k = 0; k < kVec; ++k) m |= std::uint64_t{p[k] == 0} << k;
  return m;
}
inline std::uint64_t same_bytes(const std::uint8_t* a, const std::uint8_t* b) {
  std::uint64_t m = 0;
  for (std::size_t k = 0; k < kVec; ++k) m |= std::uint64_t{a[k] == b[k]} << k;
  return m;
}
#endif

constexpr std::uint64_t kAllBytes = (std::uint64_t{1} << kVec) - 1;

// Bytes of a vector that form whole pixels, and the mask bits of alpha bytes (always ignored).
template <int BPP>
constexpr std::size_t kStep = kVec - kVec % BPP;
template <int BPP>
constexpr std::uint64_t kAlpha = BPP == 4 ? 0x8888888888888888ull & kAllBytes : 0;
template <int BPP>
constexpr std::uint64_t kStepBits = (std::uint64_t{1} << kStep<BPP>) - 1;

// R, G, B of the pixel at `p` as an id (the residual buffer is padded for the 4-byte load).
inline std::uint32_t rgb(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v & 0xFFFFFFu;
}

// Byte-wise sum modulo 256 of two packed RGB values.
inline std::uint32_t add_bytes(std::uint32_t a, std::uint32_t b) {
  return ((a & 0x7F7F7Fu) + (b & 0x7F7F7Fu)) ^ ((a ^ b) & 0x808080u);
}

inline std::uint32_t paeth_bytes(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  std::uint32_t out = 0;
  for (int k = 0; k < 24; k += 8) {
    int x = (a >> k) & 255, y = (b >> k) & 255, z = (c >> k) & 255;
    int p = x + y - z;
    int px = p > x ? p - x : x - p, py = p > y ? p - y : y - p, pz = p > z ? p - z : z - p;
    int v = (px <= py && px <= pz) ? x : (py <= pz ? y : z);
    out |= static_cast<std::uint32_t>(v) << k;
  }
  return out;
}

inline std::uint32_t average_bytes(std::uint32_t a, std::uint32_t b) {
  std::uint32_t out = 0;
  for (int k = 0; k < 24; k += 8) out |= ((((a >> k) & 255) + ((b >> k) & 255)) >> 1) << k;
  return out;
}

// Writes a row's runs from the values its pixels take, in increasing pixel order.
struct RunBuilder {
  Run* out;
  Run* begin;
  std::uint32_t current;
  void set(std::size_t x, std::uint32_t value) {
    if (value != current) {
      if (x > 0) *out++ = {static_cast<std::uint32_t>(x), current};
      current = value;
    }
  }
  std::size_t finish(std::size_t width) {
    *out++ = {static_cast<std::uint32_t>(width), current};
    return static_cast<std::size_t>(out - begin);
  }
};

// The value of the row above at increasing pixel positions.
struct UpCursor {
  const Run* run;
  std::uint32_t at(std::size_t x) {
    while (run->end <= x) ++run;
    return run->id;
  }
  std::size_t run_end() const { return run->end; }
};

// Finds the next pixel whose residual R, G or B is not zero, for increasing positions.
template <int BPP>
class NonzeroScanner {
 public:
  NonzeroScanner(const std::uint8_t* res, std::size_t width) : res_(res), width_(width) {}

  // The first pixel at or after `x` with a non-zero residual, or the width.
  std::size_t next(std::size_t x) {
    if (x >= from_ && x <= found_) return found_;  // nothing non-zero in [from_, found_)
    from_ = x;
    found_ = search(x);
    return found_;
  }

 private:
  std::size_t search(std::size_t x) const {
    std::size_t i = x * BPP;
    const std::size_t n = width_ * BPP;
    for (; i + kVec <= n; i += kStep<BPP>) {
      std::uint64_t nonzero = ~(zero_bytes(res_ + i) | kAlpha<BPP>) & kStepBits<BPP>;
      if (nonzero) return i / BPP + static_cast<std::size_t>(__builtin_ctzll(nonzero)) / BPP;
    }
    for (; i < n; i += BPP)
      if (rgb(res_ + i)) return i / BPP;
    return width_;
  }

  const std::uint8_t* res_;
  std::size_t width_;
  std::size_t from_ = 1, found_ = 0;  // an empty cache
};

// None: the residual is the row; runs change where a pixel differs from its left neighbour.
template <int BPP>
std::size_t none_row(const std::uint8_t* res, std::size_t width, Run* out) {
  RunBuilder b{out, out, rgb(res)};
  const std::size_t n = width * BPP;
  std::size_t i = BPP;
  for (; i + kVec <= n; i += kStep<BPP>) {
    std::uint64_t differ = ~(same_bytes(res + i, res + i - BPP) | kAlpha<BPP>) & kStepBits<BPP>;
    while (differ) {
      std::size_t pixel = static_cast<std::size_t>(__builtin_ctzll(differ)) / BPP;
      b.set(i / BPP + pixel, rgb(res + i + pixel * BPP));
      differ &= ~((std::uint64_t{2} << (pixel * BPP + BPP - 1)) - 1);
    }
  }
  for (; i < n; i += BPP) b.set(i / BPP, rgb(res + i));
  return b.finish(width);
}

// Sub, Up and Paeth. With a zero residual, Sub repeats the left pixel, Up the pixel above, and
// Paeth the left pixel wherever the row above is constant (above == above-left); so pixels need
// computing only where the residual is not zero or, for Up and Paeth, where a run above starts.
template <int BPP, int kFilter>
std::size_t predicted_row(const std::uint8_t* res, std::size_t width, const Run* up_runs, Run* out) {
  NonzeroScanner<BPP> scan(res, width);
  UpCursor up{up_runs};
  if (kFilter == 2 && scan.next(0) == width) return 0;  // the row above, repeated
  RunBuilder b{out, out, 0xFFFFFFFFu};
  std::uint32_t left = 0;
  std::size_t x = 0;
  while (x < width) {
    std::uint32_t r = rgb(res + x * BPP);
    std::uint32_t value;
    if (kFilter == 1) {
      value = add_bytes(left, r);
    } else {
      std::uint32_t above_left = x ? up.at(x - 1) : 0;
      std::uint32_t above = up.at(x);
      std::uint32_t predicted = above;
      // Paeth per byte picks the left byte where above == above-left, the above byte where
      // left == above-left; whole pixels usually satisfy one of these.
      if (kFilter == 4)
        predicted = above == above_left ? left : left == above_left ? above : paeth_bytes(left, above, above_left);
      value = add_bytes(predicted, r);
    }
    b.set(x, value);
    left = value;
    // Skip the pixels that repeat this value: zero residual and (Up, Paeth) the same run above.
    std::size_t next = (kFilter == 2 && r != 0) ? x + 1 : scan.next(x + 1);
    if (kFilter != 1 && up.run_end() < next) next = up.run_end();
    x = next;
  }
  return b.finish(width);
}

// Average: no shortcut (a zero residual does not repeat a neighbour), every pixel is computed.
template <int BPP>
std::size_t average_row(const std::uint8_t* res, std::size_t width, const Run* up_runs, Run* out) {
  RunBuilder b{out, out, 0xFFFFFFFFu};
  UpCursor up{up_runs};
  std::uint32_t left = 0;
  for (std::size_t x = 0; x < width; ++x) {
    left = add_bytes(average_bytes(left, up.at(x)), rgb(res + x * BPP));
    b.set(x, left);
  }
  return b.finish(width);
}

template <int BPP>
std::size_t decode_row_bpp(std::uint8_t filter, const std::uint8_t* res, std::size_t width, const Run* up, Run* out) {
  switch (filter) {
    case 1:
      return predicted_row<BPP, 1>(res, width, up, out);
    case 2:
      return predicted_row<BPP, 2>(res, width, up, out);
    case 3:
      return average_row<BPP>(res, width, up, out);
    case 4:
      return predicted_row<BPP, 4>(res, width, up, out);
    default:
      return none_row<BPP>(res, width, out);
  }
}

std::size_t decode_row(std::uint8_t filter, const std::uint8_t* res, std::size_t width, int bpp, const Run* up,
                       Run* out) {
  return bpp == 4 ? decode_row_bpp<4>(filter, res, width, up, out) : decode_row_bpp<3>(filter, res, width, up, out);
}

}  // namespace
