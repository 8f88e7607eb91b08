// The row kernels, written once; the vector width follows the including file's compiler flags
// (AVX2: 32 bytes, SSE2: 16, otherwise portable code). Included by one .cpp per instruction set;
// everything here has internal linkage.
#include <algorithm>
#include <cstring>

#include "png/png_rows.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {

using fastpq::Run;

#if defined(__AVX2__)
constexpr std::size_t kVec = 32;
inline std::uint64_t same_bytes(const std::uint8_t* a, const std::uint8_t* b) {
  __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y)));
}
#elif defined(__SSE2__)
constexpr std::size_t kVec = 16;
inline std::uint64_t same_bytes(const std::uint8_t* a, const std::uint8_t* b) {
  __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
  __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)));
}
#else
constexpr std::size_t kVec = 16;
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

// The pixel at `p` packed as the lanes of the filter arithmetic, its first byte lowest: R, G, B of
// a colour pixel (alpha dropped), the byte of 8-bit grey, the two bytes of 16-bit grey.
template <int BPP>
inline std::uint32_t pixel(const std::uint8_t* p) {
  if constexpr (BPP == 1) return p[0];
  else if constexpr (BPP == 2) return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8;
  else return rgb(p);
}

constexpr std::uint32_t kAdlerModulus = 65521;
constexpr std::size_t kBlock = 32;
// Bytes that can be summed before the 32-bit lanes or the running sums need reducing.
constexpr std::size_t kAdlerChunk = 5536;  // 173 blocks, below zlib's NMAX of 5552

// Sums of one 32-byte block for Adler-32: the plain byte sum and the sum weighted 32, 31, ..., 1;
// returned as vectors that are added up lane-wise. Also returns the block's non-zero bytes.
#if defined(__AVX2__)
struct BlockSums {
  __m256i plain = _mm256_setzero_si256(), weighted = _mm256_setzero_si256(), prefix = _mm256_setzero_si256();
  std::uint32_t add(const std::uint8_t* p) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i weights = _mm256_setr_epi8(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15,
                                             14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    prefix = _mm256_add_epi32(prefix, plain);
    plain = _mm256_add_epi32(plain, _mm256_sad_epu8(v, _mm256_setzero_si256()));
    weighted = _mm256_add_epi32(weighted, _mm256_madd_epi16(_mm256_maddubs_epi16(v, weights), _mm256_set1_epi16(1)));
    return ~static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256())));
  }
  // Two blocks at once, as add(p) then add(p + 32) would sum them: the second block's prefix is
  // the first's plus its byte sum, and the weighted 16-bit sums of both blocks (at most 2 * 16320)
  // are added before widening. Returns the non-zero bits of the first block in the low half.
  std::uint64_t add2(const std::uint8_t* p) {
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const __m256i zero = _mm256_setzero_si256();
    const __m256i weights = _mm256_setr_epi8(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15,
                                             14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m256i s0 = _mm256_sad_epu8(v0, zero);
    prefix = _mm256_add_epi32(prefix, _mm256_add_epi32(_mm256_slli_epi32(plain, 1), s0));
    plain = _mm256_add_epi32(plain, _mm256_add_epi32(s0, _mm256_sad_epu8(v1, zero)));
    const __m256i w = _mm256_add_epi16(_mm256_maddubs_epi16(v0, weights), _mm256_maddubs_epi16(v1, weights));
    weighted = _mm256_add_epi32(weighted, _mm256_madd_epi16(w, _mm256_set1_epi16(1)));
    const std::uint32_t z0 = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, zero)));
    const std::uint32_t z1 = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, zero)));
    return ~(std::uint64_t{z1} << 32 | z0);
  }
  static std::uint64_t total(__m256i x) {
    alignas(32) std::uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), x);
    std::uint64_t s = 0;
    for (std::uint32_t l : lanes) s += l;
    return s;
  }
  std::uint64_t plain_sum() const { return total(plain); }
  std::uint64_t weighted_sum() const { return total(weighted); }
  std::uint64_t prefix_sum() const { return total(prefix); }
};
#elif defined(__SSE2__)
struct BlockSums {
  __m128i plain = _mm_setzero_si128(), weighted = _mm_setzero_si128(), prefix = _mm_setzero_si128();
  std::uint32_t add(const std::uint8_t* p) {
    const __m128i zero = _mm_setzero_si128();
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    prefix = _mm_add_epi32(prefix, plain);
    plain = _mm_add_epi32(plain, _mm_add_epi32(_mm_sad_epu8(lo, zero), _mm_sad_epu8(hi, zero)));
    const __m128i w0 = _mm_setr_epi16(32, 31, 30, 29, 28, 27, 26, 25), w1 = _mm_setr_epi16(24, 23, 22, 21, 20, 19, 18, 17);
    const __m128i w2 = _mm_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9), w3 = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
    __m128i s = _mm_madd_epi16(_mm_unpacklo_epi8(lo, zero), w0);
    s = _mm_add_epi32(s, _mm_madd_epi16(_mm_unpackhi_epi8(lo, zero), w1));
    s = _mm_add_epi32(s, _mm_madd_epi16(_mm_unpacklo_epi8(hi, zero), w2));
    s = _mm_add_epi32(s, _mm_madd_epi16(_mm_unpackhi_epi8(hi, zero), w3));
    weighted = _mm_add_epi32(weighted, s);
    const std::uint32_t zero_lo = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(lo, zero)));
    const std::uint32_t zero_hi = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(hi, zero)));
    return ~(zero_lo | (zero_hi << 16));
  }
  static std::uint64_t total(__m128i x) {
    alignas(16) std::uint32_t lanes[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), x);
    return std::uint64_t{lanes[0]} + lanes[1] + lanes[2] + lanes[3];
  }
  std::uint64_t plain_sum() const { return total(plain); }
  std::uint64_t weighted_sum() const { return total(weighted); }
  std::uint64_t prefix_sum() const { return total(prefix); }
};
#else
struct BlockSums {
  std::uint64_t plain = 0, weighted = 0, prefix = 0;
  std::uint32_t add(const std::uint8_t* p) {
    prefix += plain;
    std::uint32_t nonzero = 0;
    for (std::size_t k = 0; k < kBlock; ++k) {
      plain += p[k];
      weighted += (kBlock - k) * p[k];
      nonzero |= std::uint32_t{p[k] != 0} << k;
    }
    return nonzero;
  }
  std::uint64_t plain_sum() const { return plain; }
  std::uint64_t weighted_sum() const { return weighted; }
  std::uint64_t prefix_sum() const { return prefix; }
};
#endif

// Folds bytes [0, n) of `p` into the Adler-32 `adler` and sets bit k of `bits` (32-bit words,
// n / 32 + 1 of them) where p[k] is not zero: one pass for both, so each row is read once.
// Over m whole blocks starting from (a, b): a += sum of bytes;
// b += 32m * a + 32 * (sum over blocks of the byte sums of the blocks before it) + sum of the
// weighted block sums.
std::uint32_t adler_and_nonzero(const std::uint8_t* p, std::size_t n, std::uint32_t adler, std::uint32_t* bits) {
  std::uint64_t a = adler & 0xFFFF, b = adler >> 16;
  std::size_t i = 0;
  while (n - i >= kBlock) {
    const std::size_t end = i + std::min(kAdlerChunk, (n - i) / kBlock * kBlock);
    const std::uint64_t bytes = end - i;
    BlockSums sums;
#if defined(__AVX2__)
    for (; i + 2 * kBlock <= end; i += 2 * kBlock) {
      const std::uint64_t m = sums.add2(p + i);
      bits[i / kBlock] = static_cast<std::uint32_t>(m);
      bits[i / kBlock + 1] = static_cast<std::uint32_t>(m >> 32);
    }
#endif
    for (; i < end; i += kBlock) bits[i / kBlock] = sums.add(p + i);
    b = (b + bytes * a + kBlock * sums.prefix_sum() + sums.weighted_sum()) % kAdlerModulus;
    a = (a + sums.plain_sum()) % kAdlerModulus;
  }
  std::uint32_t tail = 0;
  for (std::size_t k = 0; i + k < n; ++k) {
    a += p[i + k];
    b += a;
    tail |= std::uint32_t{p[i + k] != 0} << k;
  }
  bits[i / kBlock] = tail;
  return static_cast<std::uint32_t>((b % kAdlerModulus) << 16 | (a % kAdlerModulus));
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

// Sets bit k of `summary` (64-bit words, stored as pairs of 32-bit words) where word k of `bits`
// (`words` of them) has a bit outside `ignore` set, so that a search skips zero words 64 at a time.
void summarize_nonzero(const std::uint32_t* bits, std::size_t words, std::uint32_t ignore, std::uint32_t* summary) {
  for (std::size_t s = 0; s * 64 < words; ++s) {
    const std::size_t first = s * 64, count = std::min<std::size_t>(64, words - first);
    std::uint64_t v = 0;
    std::size_t k = 0;
#if defined(__AVX2__)
    const __m256i keep = _mm256_set1_epi32(static_cast<int>(~ignore)), zero = _mm256_setzero_si256();
    for (; k + 8 <= count; k += 8) {
      const __m256i w = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + first + k)), keep);
      const unsigned zeros = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(w, zero))));
      v |= std::uint64_t{~zeros & 0xFFu} << k;
    }
#endif
    for (; k < count; ++k) v |= std::uint64_t{(bits[first + k] & ~ignore) != 0} << k;
    std::memcpy(summary + 2 * s, &v, 8);
  }
}

// Finds the next pixel whose residual R, G or B is not zero, for increasing positions, from the
// bitmap of non-zero bytes of the row (bit 0: the filter byte, bit 1 + k: residual byte k) and
// its summary (summarize_nonzero).
template <int BPP>
class NonzeroScanner {
 public:
  NonzeroScanner(const std::uint32_t* bits, const std::uint32_t* summary, std::size_t width)
      : bits_(bits), summary_(summary), width_(width) {}

  // The first pixel at or after `x` with a non-zero residual, or the width.
  std::size_t next(std::size_t x) {
    if (x >= from_ && x <= found_) return found_;  // nothing non-zero in [from_, found_)
    from_ = x;
    found_ = search(x);
    return found_;
  }

 private:
  // Alpha bytes sit at residual k = 3 mod 4, that is bit 0 mod 4 of each word.
  static constexpr std::uint32_t kAlphaBits = BPP == 4 ? 0x11111111u : 0;

  std::size_t search(std::size_t x) const {
    const std::size_t end_bit = 1 + width_ * BPP;
    const std::size_t bit = 1 + x * BPP;
    if (bit >= end_bit) return width_;
    std::size_t word = bit / 32;
    std::uint32_t w = bits_[word] & ~kAlphaBits & (~0u << (bit % 32));
    if (w == 0) {
      const std::size_t words = fastpq::row_bit_words(width_, BPP), after = word + 1;
      if (after >= words) return width_;
      std::size_t s = after / 64;
      std::uint64_t m;
      std::memcpy(&m, summary_ + 2 * s, 8);
      m &= ~std::uint64_t{0} << (after % 64);
      const std::size_t last = (words - 1) / 64;
      while (m == 0) {
        if (++s > last) return width_;
        std::memcpy(&m, summary_ + 2 * s, 8);
      }
      word = s * 64 + static_cast<std::size_t>(__builtin_ctzll(m));
      w = bits_[word] & ~kAlphaBits;
    }
    const std::size_t found = word * 32 + static_cast<std::size_t>(__builtin_ctz(w));
    return found >= end_bit ? width_ : (found - 1) / BPP;
  }

  const std::uint32_t* bits_;
  const std::uint32_t* summary_;
  std::size_t width_;
  std::size_t from_ = 1, found_ = 0;  // an empty cache
};

// None: the residual is the row; runs change where a pixel differs from its left neighbour.
template <int BPP>
std::size_t none_row(const std::uint8_t* res, std::size_t width, Run* out) {
  RunBuilder b{out, out, pixel<BPP>(res)};
  const std::size_t n = width * BPP;
  std::size_t i = BPP;
  for (; i + kVec <= n; i += kStep<BPP>) {
    std::uint64_t differ = ~(same_bytes(res + i, res + i - BPP) | kAlpha<BPP>) & kStepBits<BPP>;
    while (differ) {
      std::size_t at = static_cast<std::size_t>(__builtin_ctzll(differ)) / BPP;
      b.set(i / BPP + at, pixel<BPP>(res + i + at * BPP));
      differ &= ~((std::uint64_t{2} << (at * BPP + BPP - 1)) - 1);
    }
  }
  for (; i < n; i += BPP) b.set(i / BPP, pixel<BPP>(res + i));
  return b.finish(width);
}

// Sub, Up and Paeth. With a zero residual, Sub repeats the left pixel, Up the pixel above, and
// Paeth the left pixel wherever the row above is constant (above == above-left); so pixels need
// computing only where the residual is not zero or, for Up and Paeth, where a run above starts.
template <int BPP, int kFilter>
std::size_t predicted_row(const std::uint8_t* res, const std::uint32_t* bits, const std::uint32_t* summary,
                          std::size_t width, const Run* up_runs, Run* out) {
  NonzeroScanner<BPP> scan(bits, summary, width);
  UpCursor up{up_runs};
  if (kFilter == 2 && scan.next(0) == width) return 0;  // the row above, repeated
  RunBuilder b{out, out, 0xFFFFFFFFu};
  std::uint32_t left = 0;
  std::size_t x = 0;
  while (x < width) {
    std::uint32_t r = pixel<BPP>(res + x * BPP);
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
    left = add_bytes(average_bytes(left, up.at(x)), pixel<BPP>(res + x * BPP));
    b.set(x, left);
  }
  return b.finish(width);
}

template <int BPP>
std::size_t decode_row_bpp(std::uint8_t filter, const std::uint8_t* res, const std::uint32_t* bits,
                           const std::uint32_t* summary, std::size_t width,
                           const Run* up, Run* out) {
  switch (filter) {
    case 1:
      return predicted_row<BPP, 1>(res, bits, summary, width, up, out);
    case 2:
      return predicted_row<BPP, 2>(res, bits, summary, width, up, out);
    case 3:
      return average_row<BPP>(res, width, up, out);
    case 4:
      return predicted_row<BPP, 4>(res, bits, summary, width, up, out);
    default:
      return none_row<BPP>(res, width, out);
  }
}

std::size_t id_row_runs(const std::uint32_t* row, std::size_t width, Run* out) {
  Run* o = out;
  std::uint32_t current = row[0];
  std::size_t x = 1;
  // Lanes that differ from their left neighbour start runs, taken in order.
  auto boundaries = [&](std::size_t base, unsigned differ) {
    while (differ) {
      const std::size_t at = base + static_cast<std::size_t>(__builtin_ctz(differ));
      *o++ = {static_cast<std::uint32_t>(at), current};
      current = row[at];
      differ &= differ - 1;
    }
  };
#if defined(__AVX2__)
  auto same = [&](std::size_t at) {
    return _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + at)),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + at - 1)));
  };
  auto differ = [](__m256i eq) { return ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(eq))) & 0xFFu; };
  // 32 pixels a test: inside segments no pixel differs from its left neighbour.
  for (; x + 32 <= width; x += 32) {
    const __m256i e0 = same(x), e1 = same(x + 8), e2 = same(x + 16), e3 = same(x + 24);
    const __m256i all = _mm256_and_si256(_mm256_and_si256(e0, e1), _mm256_and_si256(e2, e3));
    if (_mm256_movemask_epi8(all) == -1) continue;
    boundaries(x, differ(e0));
    boundaries(x + 8, differ(e1));
    boundaries(x + 16, differ(e2));
    boundaries(x + 24, differ(e3));
  }
  for (; x + 8 <= width; x += 8) boundaries(x, differ(same(x)));
#elif defined(__SSE2__)
  for (; x + 4 <= width; x += 4) {
    const __m128i here = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x));
    const __m128i left = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + x - 1));
    boundaries(x, ~static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(here, left)))) & 0xFu);
  }
#endif
  for (; x < width; ++x) {
    if (row[x] != current) {
      *o++ = {static_cast<std::uint32_t>(x), current};
      current = row[x];
    }
  }
  *o++ = {static_cast<std::uint32_t>(width), current};
  return static_cast<std::size_t>(o - out);
}

std::size_t decode_row(const std::uint8_t* row, std::size_t width, int bpp, const Run* up, Run* out,
                       std::uint32_t* adler, std::uint32_t* bits) {
  const std::size_t words = fastpq::row_bit_words(width, bpp);
  *adler = adler_and_nonzero(row, 1 + width * static_cast<std::size_t>(bpp), *adler, bits);
  std::uint32_t* summary = bits + words;
  if (row[0] != 0 && row[0] != 3) summarize_nonzero(bits, words, bpp == 4 ? 0x11111111u : 0, summary);
  switch (bpp) {
    case 1:
      return decode_row_bpp<1>(row[0], row + 1, bits, summary, width, up, out);
    case 2:
      return decode_row_bpp<2>(row[0], row + 1, bits, summary, width, up, out);
    case 4:
      return decode_row_bpp<4>(row[0], row + 1, bits, summary, width, up, out);
    default:
      return decode_row_bpp<3>(row[0], row + 1, bits, summary, width, up, out);
  }
}

}  // namespace
