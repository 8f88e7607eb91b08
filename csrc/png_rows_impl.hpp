// The row kernels, written once over a vector width that the including file's compiler flags
// choose (AVX2: 32 bytes, SSE2: 16, otherwise portable scalar code over 16-byte blocks).
// Included by one .cpp per instruction set, inside its own namespace; nothing here may be an
// inline function with external linkage shared between those files.
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
using Vec = __m256i;
inline Vec load(const std::uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const Vec*>(p)); }
inline void store(std::uint8_t* p, Vec v) { _mm256_storeu_si256(reinterpret_cast<Vec*>(p), v); }
inline std::uint64_t eq_mask(Vec a, Vec b) {
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, b)));
}
inline Vec add(Vec a, Vec b) { return _mm256_add_epi8(a, b); }
inline Vec zero() { return _mm256_setzero_si256(); }
inline Vec vand(Vec a, Vec b) { return _mm256_and_si256(a, b); }
inline Vec vor(Vec a, Vec b) { return _mm256_or_si256(a, b); }
inline std::uint64_t bits(Vec v) { return static_cast<std::uint32_t>(_mm256_movemask_epi8(v)); }
inline Vec cmpeq(Vec a, Vec b) { return _mm256_cmpeq_epi8(a, b); }
#elif defined(__SSE2__)
constexpr std::size_t kVec = 16;
using Vec = __m128i;
inline Vec load(const std::uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const Vec*>(p)); }
inline void store(std::uint8_t* p, Vec v) { _mm_storeu_si128(reinterpret_cast<Vec*>(p), v); }
inline Vec add(Vec a, Vec b) { return _mm_add_epi8(a, b); }
inline Vec zero() { return _mm_setzero_si128(); }
inline Vec vand(Vec a, Vec b) { return _mm_and_si128(a, b); }
inline Vec vor(Vec a, Vec b) { return _mm_or_si128(a, b); }
inline std::uint64_t bits(Vec v) { return static_cast<std::uint32_t>(_mm_movemask_epi8(v)); }
inline Vec cmpeq(Vec a, Vec b) { return _mm_cmpeq_epi8(a, b); }
#else
constexpr std::size_t kVec = 16;
struct Vec {
  std::uint8_t b[16];
};
inline Vec load(const std::uint8_t* p) {
  Vec v;
  std::memcpy(v.b, p, 16);
  return v;
}
inline void store(std::uint8_t* p, Vec v) { std::memcpy(p, v.b, 16); }
template <typename F>
inline Vec bytewise(Vec a, Vec b, F f) {
  Vec r;
  for (int k = 0; k < 16; ++k) r.b[k] = f(a.b[k], b.b[k]);
  return r;
}
inline Vec add(Vec a, Vec b) { return bytewise(a, b, [](std::uint8_t x, std::uint8_t y) { return std::uint8_t(x + y); }); }
inline Vec zero() { return Vec{}; }
inline Vec vand(Vec a, Vec b) { return bytewise(a, b, [](std::uint8_t x, std::uint8_t y) { return std::uint8_t(x & y); }); }
inline Vec vor(Vec a, Vec b) { return bytewise(a, b, [](std::uint8_t x, std::uint8_t y) { return std::uint8_t(x | y); }); }
inline Vec cmpeq(Vec a, Vec b) {
  return bytewise(a, b, [](std::uint8_t x, std::uint8_t y) { return std::uint8_t(x == y ? 0xFF : 0); });
}
inline std::uint64_t bits(Vec v) {
  std::uint64_t m = 0;
  for (int k = 0; k < 16; ++k) m |= std::uint64_t{static_cast<std::uint8_t>(v.b[k] >> 7)} << k;
  return m;
}
#endif

constexpr std::uint64_t kAllBytes = (std::uint64_t{1} << kVec) - 1;

// Bytes of a vector that form whole pixels.
template <int BPP>
constexpr std::size_t kStep = kVec - kVec % BPP;

// Alpha bytes never affect ids: their mask bits are always set.
template <int BPP>
constexpr std::uint64_t kIgnored = BPP == 4 ? 0x8888888888888888ull & kAllBytes : 0;

template <int BPP>
constexpr std::uint64_t kStepBits = (std::uint64_t{1} << kStep<BPP>) - 1;

template <int BPP>
constexpr std::uint64_t kPixelBits = (std::uint64_t{1} << BPP) - 1;

inline std::uint32_t pixel_id(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v & 0xFFFFFFu;
}

inline std::uint8_t paeth(std::uint8_t a, std::uint8_t b, std::uint8_t c) {
  int p = int{a} + int{b} - int{c};
  int pa = p > a ? p - a : a - p;
  int pb = p > b ? p - b : b - p;
  int pc = p > c ? p - c : c - p;
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Appends runs to a caller-sized array.
struct RunWriter {
  Run* out;
  Run* begin;
  std::uint32_t current;
  void boundary(std::size_t pixel, std::uint32_t id) {
    *out++ = {static_cast<std::uint32_t>(pixel), current};
    current = id;
  }
  std::size_t finish(std::size_t width) {
    *out++ = {static_cast<std::uint32_t>(width), current};
    return static_cast<std::size_t>(out - begin);
  }
};

bool all_zero(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + 2 * kVec <= n; i += 2 * kVec)
    if (bits(cmpeq(vor(load(p + i), load(p + i + kVec)), zero())) != kAllBytes) return false;
  for (; i < n; ++i)
    if (p[i]) return false;
  return true;
}

// Records the pixels of the block at byte `i` whose bit in `differ` (one per byte) is set.
template <int BPP>
inline void boundaries_from_mask(std::uint64_t differ, std::size_t i, const std::uint8_t* row, RunWriter& w) {
  while (differ) {
    unsigned pixel = static_cast<unsigned>(__builtin_ctzll(differ)) / BPP;
    std::size_t at = i + pixel * BPP;
    w.boundary(at / BPP, pixel_id(row + at));
    differ &= ~((std::uint64_t{1} << ((pixel + 1) * BPP)) - 1);
  }
}

// Runs of an unfiltered row: a pixel starts a run where a byte differs from the byte BPP before.
template <int BPP>
std::size_t scan_runs(const std::uint8_t* row, std::size_t n, Run* runs) {
  RunWriter w{runs, runs, pixel_id(row)};
  std::size_t i = BPP;
  for (; i + kVec <= n; i += kStep<BPP>) {
    std::uint64_t same = bits(cmpeq(load(row + i), load(row + i - BPP))) | kIgnored<BPP>;
    boundaries_from_mask<BPP>(~same & kStepBits<BPP>, i, row, w);
  }
  for (; i < n; i += BPP)
    if (pixel_id(row + i) != w.current) w.boundary(i / BPP, pixel_id(row + i));
  return w.finish(n / BPP);
}

// Up rows: add the row above and compare with the left pixel in one pass. The left neighbours
// are recomputed from the inputs rather than re-read from `out`, which would stall on stores.
template <int BPP>
std::size_t up_row(const std::uint8_t* res, const std::uint8_t* up, std::uint8_t* out, std::size_t n, Run* runs) {
  for (int k = 0; k < BPP; ++k) out[k] = static_cast<std::uint8_t>(res[k] + up[k]);
  RunWriter w{runs, runs, pixel_id(out)};
  std::size_t i = BPP;
  for (; i + kVec <= n; i += kStep<BPP>) {
    Vec v = add(load(res + i), load(up + i));
    Vec left = add(load(res + i - BPP), load(up + i - BPP));
    store(out + i, v);
    std::uint64_t same = bits(cmpeq(v, left)) | kIgnored<BPP>;
    boundaries_from_mask<BPP>(~same & kStepBits<BPP>, i, out, w);
  }
  for (; i < n; i += BPP) {
    for (int k = 0; k < BPP; ++k) out[i + k] = static_cast<std::uint8_t>(res[i + k] + up[i + k]);
    if (pixel_id(out + i) != w.current) w.boundary(i / BPP, pixel_id(out + i));
  }
  return w.finish(n / BPP);
}

// Sub (kPaeth false) and Paeth rows, whose pixels depend on their left neighbour. A pixel with a
// zero residual (and, for Paeth, a constant row above) repeats its left neighbour, so blocks of
// such pixels are filled from a pattern and only the others are computed, with the left pixel
// kept in a register.
template <int BPP, bool kPaeth>
std::size_t serial_row(const std::uint8_t* res, const std::uint8_t* up, std::uint8_t* out, std::size_t n,
                       Run* runs) {
  std::uint32_t left = 0;
  for (int k = 0; k < BPP; ++k) {
    std::uint8_t v = static_cast<std::uint8_t>(res[k] + (kPaeth ? up[k] : 0));
    out[k] = v;
    left |= std::uint32_t{v} << (8 * k);
  }
  RunWriter w{runs, runs, left & 0xFFFFFFu};
  std::uint8_t pattern[kVec];
  auto refill = [&] {
    for (std::size_t k = 0; k < kVec; ++k) pattern[k] = static_cast<std::uint8_t>(left >> (8 * (k % BPP)));
  };
  refill();
  auto compute_pixel = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int k = 0; k < BPP; ++k) {
      std::uint8_t a = static_cast<std::uint8_t>(left >> (8 * k));
      std::uint8_t pred = kPaeth ? paeth(a, up[at + k], up[at + k - BPP]) : a;
      v |= std::uint32_t{static_cast<std::uint8_t>(res[at + k] + pred)} << (8 * k);
    }
    std::memcpy(out + at, &v, BPP);
    left = v;
    if ((v & 0xFFFFFFu) != w.current) w.boundary(at / BPP, v & 0xFFFFFFu);
  };

  std::size_t i = BPP;
  for (; i + kVec <= n; i += kStep<BPP>) {
    Vec zero_residual = cmpeq(load(res + i), zero());
    if (kPaeth) zero_residual = vand(zero_residual, cmpeq(load(up + i), load(up + i - BPP)));
    std::uint64_t repeats = bits(zero_residual) | kIgnored<BPP>;
    if (repeats == kAllBytes) {
      std::memcpy(out + i, pattern, kVec);  // padded rows: bytes past the step are rewritten later
      continue;
    }
    for (std::size_t k = 0; k < kStep<BPP>; k += BPP) {
      if (((repeats >> k) & kPixelBits<BPP>) == kPixelBits<BPP>)
        std::memcpy(out + i + k, &left, BPP);
      else
        compute_pixel(i + k);
    }
    refill();
  }
  for (; i < n; i += BPP) compute_pixel(i);
  return w.finish(n / BPP);
}

template <int BPP>
std::size_t decode_row_bpp(std::uint8_t filter, const std::uint8_t* res, const std::uint8_t* up, std::uint8_t* out,
                           std::size_t n, Run* runs) {
  switch (filter) {
    case 1:
      return serial_row<BPP, false>(res, up, out, n, runs);
    case 2:
      return up_row<BPP>(res, up, out, n, runs);
    case 3:
      for (int k = 0; k < BPP; ++k) out[k] = static_cast<std::uint8_t>(res[k] + (up[k] >> 1));
      for (std::size_t i = BPP; i < n; ++i)
        out[i] = static_cast<std::uint8_t>(res[i] + ((unsigned{out[i - BPP]} + up[i]) >> 1));
      return scan_runs<BPP>(out, n, runs);
    case 4:
      return serial_row<BPP, true>(res, up, out, n, runs);
    default:
      std::memcpy(out, res, n);
      return scan_runs<BPP>(out, n, runs);
  }
}

std::size_t decode_row(std::uint8_t filter, const std::uint8_t* res, const std::uint8_t* up, std::uint8_t* out,
                       std::size_t n, int bpp, Run* runs) {
  return bpp == 4 ? decode_row_bpp<4>(filter, res, up, out, n, runs)
                  : decode_row_bpp<3>(filter, res, up, out, n, runs);
}

}  // namespace
