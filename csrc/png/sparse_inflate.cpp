#include "png/sparse_inflate.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace fastpq {
namespace {

constexpr int kFastBits = 10;

constexpr std::uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                           31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                           2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::uint16_t kDistBase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                         193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                         6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// LSB-first bits; past the input it reads zeros and counts them, so overruns are caught.
struct BitReader {
  const std::uint8_t* p;
  const std::uint8_t* end;
  std::uint64_t buf = 0;
  unsigned n = 0;
  std::size_t pad = 0;  // zero bytes loaded past the end

  void refill() {
    if (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      buf |= w << n;
      p += (63 - n) >> 3;
      n |= 56;
      return;
    }
    while (n <= 56) {
      std::uint64_t b = 0;
      if (p < end)
        b = *p++;
      else
        ++pad;
      buf |= b << n;
      n += 8;
    }
  }
  std::uint32_t take(unsigned k) {
    const std::uint32_t v = static_cast<std::uint32_t>(buf & ((std::uint64_t{1} << k) - 1));
    buf >>= k;
    n -= k;
    return v;
  }
  // Whether bits past the input were consumed.
  bool overrun() const { return pad * 8 > n; }
};

// A canonical Huffman code: a table for codes of up to kFastBits, bit-by-bit decoding beyond.
struct Huffman {
  std::uint16_t fast[1 << kFastBits];  // (symbol << 4) | length; 0: not a short code
  std::uint16_t count[16];
  std::uint16_t symbol[288];

  // zlib's rules: over-subscribed is bad; incomplete only for a single one-bit code (or, when
  // `allow_empty`, no code at all), never for the code-length code.
  bool build(const std::uint8_t* lengths, int n, bool allow_incomplete) {
    std::memset(count, 0, sizeof count);
    for (int s = 0; s < n; ++s) ++count[lengths[s]];
    count[0] = 0;
    int left = 1, max = 0;
    for (int len = 1; len <= 15; ++len) {
      left = (left << 1) - count[len];
      if (left < 0) return false;
      if (count[len]) max = len;
    }
    if (left > 0 && max != 0 && (!allow_incomplete || max != 1)) return false;
    if (max == 0 && !allow_incomplete) return false;
    std::uint16_t offs[16];
    offs[1] = 0;
    for (int len = 1; len < 15; ++len) offs[len + 1] = static_cast<std::uint16_t>(offs[len] + count[len]);
    for (int s = 0; s < n; ++s)
      if (lengths[s]) symbol[offs[lengths[s]]++] = static_cast<std::uint16_t>(s);
    std::memset(fast, 0, sizeof fast);
    unsigned code = 0;
    int index = 0;
    for (int len = 1; len <= kFastBits; ++len) {
      for (int k = 0; k < count[len]; ++k, ++code, ++index) {
        unsigned rev = 0;
        for (int b = 0; b < len; ++b) rev |= ((code >> b) & 1u) << (len - 1 - b);
        const std::uint16_t entry = static_cast<std::uint16_t>((symbol[index] << 4) | len);
        for (unsigned r = rev; r < (1u << kFastBits); r += 1u << len) fast[r] = entry;
      }
      code <<= 1;
    }
    return true;
  }

  // The next symbol, or -1 for a code that is not in the table. Needs 15 bits in `br`.
  int decode(BitReader& br) const {
    const std::uint16_t e = fast[br.buf & ((1u << kFastBits) - 1)];
    if (e) {
      br.take(e & 15);
      return e >> 4;
    }
    int code = 0, first = 0, index = 0;
    std::uint64_t b = br.buf;
    for (int len = 1; len <= 15; ++len) {
      code |= static_cast<int>(b & 1);
      b >>= 1;
      const int c = count[len];
      if (code - first < c) {
        br.take(len);
        return symbol[index + code - first];
      }
      index += c;
      first = (first + c) << 1;
      code <<= 1;
    }
    return -1;
  }
};

class RunWriter {
 public:
  RunWriter(std::vector<ByteRun>& runs, std::size_t max_runs) : runs_(runs), max_runs_(max_runs) {}

  std::uint64_t pos = 0;

  bool dense() const { return runs_.size() > max_runs_; }

  // Whether every byte from output position `s` on is zero so far.
  bool zeros_at(std::uint64_t s) const { return runs_.empty() || runs_.back().end() <= s; }

  void literal(std::uint8_t v) {
    if (v) emit(pos, 1, v);
    ++pos;
  }

  // Output [pos, pos + len) = the bytes `dist` back, repeating with period `dist` when it overlaps.
  void copy(std::uint32_t len, std::uint32_t dist) {
    const std::uint64_t s = pos - dist, period_end = s + std::min(dist, len);
    if (runs_.empty() || runs_.back().end() <= s) {
      pos += len;
      return;
    }
    std::size_t i = static_cast<std::size_t>(
        std::partition_point(runs_.begin(), runs_.end(), [s](const ByteRun& r) { return r.end() <= s; }) -
        runs_.begin());
    std::size_t j = i;
    while (j < runs_.size() && runs_[j].start < period_end) ++j;
    if (j == i + 1 && runs_[i].start <= s && runs_[i].end() >= period_end) {
      emit(pos, len, runs_[i].value);
    } else {
      for (std::uint64_t k = 0; k < len; k += dist) {
        const std::uint64_t limit = s + std::min<std::uint64_t>(dist, len - k);
        for (std::size_t r = i; r < j; ++r) {
          const ByteRun run = runs_[r];
          const std::uint64_t a = std::max(run.start, s), b = std::min(run.end(), limit);
          if (a < b) emit(pos + k + (a - s), static_cast<std::uint32_t>(b - a), run.value);
        }
      }
    }
    pos += len;
  }

 private:
  void emit(std::uint64_t start, std::uint32_t length, std::uint8_t value) {
    if (!runs_.empty()) {
      ByteRun& b = runs_.back();
      if (b.end() == start && b.value == value &&
          std::uint64_t{b.length} + length <= std::numeric_limits<std::uint32_t>::max()) {
        b.length += length;
        return;
      }
    }
    runs_.push_back(ByteRun{start, length, value});
  }

  std::vector<ByteRun>& runs_;
  std::size_t max_runs_;
};

const Huffman& fixed_literals() {
  static const Huffman h = [] {
    Huffman t;
    std::uint8_t len[288];
    for (int s = 0; s < 288; ++s) len[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    t.build(len, 288, true);
    return t;
  }();
  return h;
}

const Huffman& fixed_distances() {
  static const Huffman h = [] {
    Huffman t;
    std::uint8_t len[32];
    std::fill(len, len + 32, std::uint8_t{5});
    t.build(len, 32, true);
    return t;
  }();
  return h;
}

// Reads a dynamic block's code lengths and builds its two codes; false when they are malformed.
bool read_dynamic(BitReader& br, Huffman& lit, Huffman& dist) {
  br.refill();
  const int nlen = static_cast<int>(br.take(5)) + 257, ndist = static_cast<int>(br.take(5)) + 1,
            ncode = static_cast<int>(br.take(4)) + 4;
  if (nlen > 286 || ndist > 30) return false;
  static constexpr std::uint8_t kOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  std::uint8_t lengths[320] = {};
  br.refill();
  for (int k = 0; k < ncode; ++k) {
    if (k == 10) br.refill();
    lengths[kOrder[k]] = static_cast<std::uint8_t>(br.take(3));
  }
  Huffman code;
  if (!code.build(lengths, 19, false)) return false;
  std::memset(lengths, 0, sizeof lengths);
  for (int at = 0; at < nlen + ndist;) {
    br.refill();
    const int sym = code.decode(br);
    if (sym < 0) return false;
    if (sym < 16) {
      lengths[at++] = static_cast<std::uint8_t>(sym);
      continue;
    }
    std::uint8_t value = 0;
    int repeat;
    if (sym == 16) {
      if (at == 0) return false;
      value = lengths[at - 1];
      repeat = 3 + static_cast<int>(br.take(2));
    } else if (sym == 17) {
      repeat = 3 + static_cast<int>(br.take(3));
    } else {
      repeat = 11 + static_cast<int>(br.take(7));
    }
    if (at + repeat > nlen + ndist) return false;
    std::fill(lengths + at, lengths + at + repeat, value);
    at += repeat;
  }
  if (lengths[256] == 0) return false;
  return lit.build(lengths, nlen, true) && dist.build(lengths + nlen, ndist, true);
}

}  // namespace

SparseStatus sparse_inflate(const std::uint8_t* in, std::size_t in_size, std::uint64_t expected,
                            std::size_t max_runs, std::vector<ByteRun>& runs, std::uint32_t* adler) {
  runs.clear();
  if (in_size < 2) return SparseStatus::kCorrupt;
  const unsigned cmf = in[0], flg = in[1];
  if ((cmf & 15) != 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 != 0 || (flg & 0x20)) return SparseStatus::kCorrupt;
  BitReader br{in + 2, in + in_size};
  RunWriter out(runs, max_runs);
  Huffman dyn_lit, dyn_dist;
  bool last = false;
  while (!last) {
    br.refill();
    if (br.overrun()) return SparseStatus::kCorrupt;
    last = br.take(1) != 0;
    const unsigned type = br.take(2);
    if (type == 0) {
      br.take(br.n & 7);
      br.refill();
      const std::uint32_t len = br.take(16), nlen = br.take(16);
      if (br.overrun() || (len ^ 0xFFFFu) != nlen) return SparseStatus::kCorrupt;
      for (std::uint32_t k = 0; k < len; ++k) {
        br.refill();
        if (br.overrun()) return SparseStatus::kCorrupt;
        if (out.pos >= expected) return SparseStatus::kTooLong;
        out.literal(static_cast<std::uint8_t>(br.take(8)));
        if (out.dense()) return SparseStatus::kTooDense;
      }
      continue;
    }
    if (type == 3) return SparseStatus::kCorrupt;
    const Huffman* lit = &fixed_literals();
    const Huffman* dist = &fixed_distances();
    if (type == 2) {
      if (!read_dynamic(br, dyn_lit, dyn_dist) || br.overrun()) return SparseStatus::kCorrupt;
      lit = &dyn_lit;
      dist = &dyn_dist;
    }
    for (;;) {
      br.refill();
      const std::uint64_t bits = br.buf;
      const unsigned had = br.n;
      const int sym = lit->decode(br);
      if (sym < 0) return SparseStatus::kCorrupt;
      if (sym < 256) {
        // Past the input the reader supplies zero bits, which can decode as literals without end:
        // a stream that ran out is corrupt, not too long (pad is 0 until the last 8 input bytes).
        if (br.pad && br.overrun()) return SparseStatus::kCorrupt;
        if (out.pos >= expected) return SparseStatus::kTooLong;
        out.literal(static_cast<std::uint8_t>(sym));
        if (sym && out.dense()) return SparseStatus::kTooDense;
        continue;
      }
      if (sym == 256) break;
      if (sym > 285) return SparseStatus::kCorrupt;
      const std::uint32_t len = kLengthBase[sym - 257] + br.take(kLengthExtra[sym - 257]);
      const int dsym = dist->decode(br);
      if (dsym < 0 || dsym > 29) return SparseStatus::kCorrupt;
      const std::uint32_t d = kDistBase[dsym] + br.take(kDistExtra[dsym]);
      if (br.overrun() || d > out.pos) return SparseStatus::kCorrupt;
      if (expected - out.pos < len) return SparseStatus::kTooLong;  // an overrun returned just above
      if (!out.zeros_at(out.pos - d)) {
        out.copy(len, d);
        if (out.dense()) return SparseStatus::kTooDense;
        continue;
      }
      out.pos += len;
      // A copy of zeros is mostly followed by the same code again (a mask's zero rows): while the
      // next bits repeat this one's and its source is still zero, skip it without decoding.
      const unsigned used = had - br.n;
      const std::uint64_t mask = (std::uint64_t{1} << used) - 1, pattern = bits & mask;
      for (;;) {
        br.refill();
        if ((br.buf & mask) != pattern || br.overrun() || expected - out.pos < len || !out.zeros_at(out.pos - d)) break;
        br.take(used);
        out.pos += len;
      }
    }
    if (br.overrun()) return SparseStatus::kCorrupt;
  }
  if (out.pos != expected) return SparseStatus::kTooShort;
  br.take(br.n & 7);
  br.refill();
  if (br.n / 8 < br.pad + 4) return SparseStatus::kCorrupt;  // no Adler-32 trailer
  std::uint32_t a = 0;
  for (int k = 0; k < 4; ++k) a = (a << 8) | br.take(8);
  *adler = a;
  return SparseStatus::kOk;
}

std::uint32_t adler32_of_runs(const std::vector<ByteRun>& runs, std::uint64_t size) {
  constexpr std::uint64_t M = 65521;
  std::uint64_t a = 1, b = size % M;
  for (const ByteRun& r : runs) {
    const std::uint64_t len = r.length, v = r.value;
    a = (a + (len % M) * v) % M;
    const std::uint64_t tail = ((len % M) * ((size - r.start) % M) + M - (len * (len - 1) / 2) % M) % M;
    b = (b + tail * v) % M;
  }
  return static_cast<std::uint32_t>((b << 16) | a);
}

}  // namespace fastpq
