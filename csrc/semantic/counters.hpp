// The counters of the semantic pass (semantic/confusion.cpp): the per-thread workspace, the confusion
// counts of one image, the raw (ground-truth byte, predicted byte) pairs of 8-bit maps and the pixels
// of each Cityscapes instance by predicted byte.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "semantic/confusion.hpp"
#include "semantic/label_rows.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fastpq {
namespace semantic_detail {

constexpr std::size_t kDenseLimit = std::size_t{1} << 20;  // matrices up to this many cells are counted densely

struct Workspace {
  explicit Workspace(InflateBackend b) : backend(b), gt(b), pred(b), inst(b), gt_runs(b), inst_runs(b) {}
  InflateBackend backend;
  LabelRows gt, pred, inst;
  RunMap gt_runs, inst_runs;  // used instead of gt / inst when active
  // Raw (gt byte, pred byte) pair counts and the pairs present; all zero between images unless
  // hist_dirty (an image that threw part-way).
  std::vector<std::uint64_t> hist;
  std::vector<std::uint32_t> hist_keys;
  bool hist_dirty = true;
  // n_rows x n_cols of the image being counted and the cells it touched; all zero between images
  // unless dense_dirty.
  std::vector<std::uint64_t> dense;
  std::vector<std::uint64_t> dense_keys;
  std::vector<std::uint64_t> dense_bits;  // scratch for putting many keys in order; all zero between uses
  bool dense_dirty = true;
  // Instance pixels by raw predicted byte: slot of each 16-bit instance value (-1: none yet), the
  // values with a slot, and 256 counts per slot; reset after every image.
  std::vector<std::int32_t> instance_slot;
  std::vector<std::uint16_t> instance_values;
  std::vector<std::uint64_t> instance_counts;
  std::unordered_map<std::uint64_t, std::uint64_t> sparse, instances;
  std::vector<std::int64_t> g, p, i;
};

class Counter {
 public:
  Counter(const SemanticOptions& o, Workspace& ws) : ws_(ws), cols_(static_cast<std::uint64_t>(o.n_cols)) {
    const std::size_t cells = std::size_t(o.n_rows) * std::size_t(o.n_cols);
    dense_ = cells <= kDenseLimit;
    if (dense_) {
      // Only the cells an image touched are cleared after it, so the matrix's size is no per-image cost.
      if (ws.dense_dirty || ws.dense.size() != cells) ws.dense.assign(cells, 0);
      ws.dense_keys.clear();
      ws.dense_dirty = true;
    } else {
      ws.sparse.clear();
    }
  }
  void add(std::int32_t r, std::int32_t c, std::uint64_t n) {
    const std::uint64_t key = std::uint64_t(r) * cols_ + std::uint64_t(c);
    if (dense_) {
      if (ws_.dense[key] == 0) ws_.dense_keys.push_back(key);
      ws_.dense[key] += n;
    } else {
      ws_.sparse[key] += n;
    }
  }
  void collect(std::vector<SparseCount>& out) {
    out.clear();
    if (dense_) {
      std::vector<std::uint64_t>& keys = ws_.dense_keys;
      out.reserve(keys.size());
      auto emit = [&](std::uint64_t k) {
        out.push_back({std::int64_t(k / cols_), std::int32_t(k % cols_), ws_.dense[k]});
        ws_.dense[k] = 0;
      };
      const std::size_t words = (ws_.dense.size() + 63) / 64;
      if (keys.size() * 8 >= words) {
        // Many cells touched (a noisy prediction): in order through a bitmap of the matrix, in time
        // linear in the keys and the matrix's words, rather than sorted.
        std::vector<std::uint64_t>& bits = ws_.dense_bits;
        if (bits.size() != words) bits.assign(words, 0);
        for (std::uint64_t k : keys) bits[k >> 6] |= std::uint64_t{1} << (k & 63);
        for (std::size_t w = 0; w < words; ++w) {
          for (std::uint64_t b = bits[w]; b; b &= b - 1) emit(w * 64 + static_cast<std::uint64_t>(__builtin_ctzll(b)));
          bits[w] = 0;
        }
      } else {
        std::sort(keys.begin(), keys.end());
        for (std::uint64_t k : keys) emit(k);
      }
      keys.clear();
      ws_.dense_dirty = false;
    } else {
      out.reserve(ws_.sparse.size());
      for (const auto& kv : ws_.sparse)
        out.push_back({std::int64_t(kv.first / cols_), std::int32_t(kv.first % cols_), kv.second});
      std::sort(out.begin(), out.end(), [](const SparseCount& a, const SparseCount& b) {
        return a.row != b.row ? a.row < b.row : a.col < b.col;
      });
    }
  }

 private:
  Workspace& ws_;
  std::uint64_t cols_;
  bool dense_;
};

// Calls add(value, count) (count > 0) for each run of equal bytes of p[0, n) (n > 0), in order,
// comparing sixteen bytes (SSE2) or eight at a time where they repeat.
template <typename Add>
inline void count_byte_runs(const std::uint8_t* p, std::uint32_t n, Add&& add) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  std::uint8_t current = p[0];
  std::uint64_t run = 0, eight = kOnes * current;
  std::uint32_t i = 0;
#if defined(__SSE2__)
  if (n >= 16) {
    // Sixteen bytes a test; at the first that differs, its value becomes the current one. Near the
    // end the test reads the last sixteen bytes, with those before i (already counted) masked off,
    // so no run ends in a byte-by-byte tail.
    while (i < n) {
      const std::uint32_t at = i + 16 <= n ? i : n - 16;
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
      const std::uint32_t same =
          static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(current)))));
      const std::uint32_t differ = ~same & (0xFFFFu << (i - at)) & 0xFFFFu;
      if (differ == 0) {
        run += at + 16 - i;
        i = at + 16;
        continue;
      }
      const std::uint32_t k = at + static_cast<std::uint32_t>(__builtin_ctz(differ));
      add(current, run + (k - i));
      current = p[k];
      run = 1;
      i = k + 1;
    }
    add(current, run);
    return;
  }
#endif
  for (; i + 8 <= n; i += 8) {
    std::uint64_t next;
    std::memcpy(&next, p + i, 8);
    if (next == eight) {
      run += 8;
      continue;
    }
    for (std::uint32_t j = i; j < i + 8; ++j) {
      if (p[j] == current) {
        ++run;
      } else {
        add(current, run);
        current = p[j];
        eight = kOnes * current;
        run = 1;
      }
    }
  }
  for (; i < n; ++i) {
    if (p[i] == current) {
      ++run;
    } else {
      add(current, run);
      current = p[i];
      run = 1;
    }
  }
  add(current, run);
}

// Raw (gt byte, pred byte) pair counts of 8-bit label rows, into ws.hist. Pixels are counted
// against a current pair `key` (the pixel order does not matter to a histogram): eight at a time when
// all eight are that pair, the others one by one; a block made mostly of another pair makes that pair
// the current one.
class BytePairCounter {
 public:
  explicit BytePairCounter(Workspace& ws) : ws_(ws) {
    if (ws.hist_dirty || ws.hist.size() != 65536) ws.hist.assign(65536, 0);
    ws.hist_keys.clear();
    ws.hist_dirty = true;
  }

  void row(const std::uint8_t* a, const std::uint8_t* b, std::uint32_t w) {
    // The state lives in locals for the loop: as members, every histogram store (a uint64_t) could
    // alias them, and the compiler would keep them in memory.
    std::uint64_t* const hist = ws_.hist.data();
    std::vector<std::uint32_t>& keys = ws_.hist_keys;
    std::uint32_t key = key_;
    std::uint64_t run = run_, ka = ka_, kb = kb_;
    auto add = [hist, &keys](std::uint32_t k, std::uint64_t n) {
      const std::uint64_t before = hist[k];
      if (before == 0) keys.push_back(k);
      hist[k] = before + n;
    };
    std::uint32_t x = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && (defined(__GNUC__) || defined(__clang__))
    constexpr std::uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full, kHigh = 0x8080808080808080ull;
    // Eight pixels from `at`: those of the current pair go to the run, the others one by one; when most
    // are another pair, the last pixel's pair becomes the current one.
    auto eight = [&](std::uint32_t at) {
      std::uint64_t a0, b0;
      std::memcpy(&a0, a + at, 8);
      std::memcpy(&b0, b + at, 8);
      const std::uint64_t d = (a0 ^ ka) | (b0 ^ kb);
      if (d == 0) {
        run += 8;
        return;
      }
      std::uint64_t m = (((d & kLow7) + kLow7) | d) & kHigh;  // the high bit of each differing byte
      const int others = static_cast<int>(((m >> 7) * kOnes) >> 56);  // their count, without a popcount call
      run += static_cast<std::uint64_t>(8 - others);
      for (; m; m &= m - 1) {
        const std::uint32_t i = at + static_cast<std::uint32_t>(__builtin_ctzll(m) >> 3);
        add((std::uint32_t{a[i]} << 8) | b[i], 1);
      }
      if (others > 4) {
        if (run) add(key, run);
        run = 0;
        key = (std::uint32_t{a[at + 7]} << 8) | b[at + 7];
        ka = kOnes * (key >> 8);
        kb = kOnes * (key & 255);
      }
    };
#if defined(__SSE2__)
    // 32 pixels a test: one mask of the pixels that are not the current pair. A block of the current
    // pair but a few (scattered noise in a prediction) adds those few one by one.
    auto same16 = [&](std::uint32_t at, __m128i va, __m128i vb) {
      const __m128i ea = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + at)), va);
      const __m128i eb = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + at)), vb);
      return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_and_si128(ea, eb)));
    };
    auto others_of = [&](std::uint32_t at) {
      const __m128i va = _mm_set1_epi8(static_cast<char>(key >> 8)), vb = _mm_set1_epi8(static_cast<char>(key & 255));
      return ~(same16(at, va, vb) | same16(at + 16, va, vb) << 16);
    };
    auto at_most_four = [](std::uint32_t bits) {
      for (int k = 0; k < 4; ++k) bits &= bits - 1;
      return bits == 0;
    };
    for (; x + 32 <= w; x += 32) {
      std::uint32_t other = others_of(x);
      // While more than four pixels from `from` on are another pair, the pair at the first of them
      // becomes the current one (a segment boundary), and the rest of the block is tested again; up
      // to three times a block, after which its other pixels are taken one by one (noise).
      std::uint32_t from = 0;
      for (int boundaries = 0; boundaries < 3 && !at_most_four(other); ++boundaries) {
        const std::uint32_t p = static_cast<std::uint32_t>(__builtin_ctz(other));
        run += p - from;
        if (run) add(key, run);
        run = 0;
        key = (std::uint32_t{a[x + p]} << 8) | b[x + p];
        from = p;
        other = others_of(x) & (~0u << p);
      }
      // The other pixels, most often none to two (noise): when there are any, two are taken without
      // a branch on their number, which no predictor can guess (a step without one adds 0 at the
      // block's last pixel), then any more in a loop.
      std::uint32_t others = 0;
      if (other != 0) {
        for (int step = 0; step < 2; ++step) {
          const std::uint32_t has = other != 0;
          const std::uint32_t i = x + static_cast<std::uint32_t>(__builtin_ctz(other | 0x80000000u));
          const std::uint32_t k = (std::uint32_t{a[i]} << 8) | b[i];
          const std::uint64_t before = hist[k];
          if ((before == 0) & (has != 0)) keys.push_back(k);
          hist[k] = before + has;
          others += has;
          other &= other - 1;
        }
        for (; other; other &= other - 1, ++others) {
          const std::uint32_t i = x + static_cast<std::uint32_t>(__builtin_ctz(other));
          add((std::uint32_t{a[i]} << 8) | b[i], 1);
        }
      }
      run += 32 - from - others;
    }
    ka = kOnes * (key >> 8);
    kb = kOnes * (key & 255);
#endif
    for (; x + 8 <= w; x += 8) eight(x);
#endif
    for (; x < w; ++x) {
      const std::uint32_t k = (std::uint32_t{a[x]} << 8) | b[x];
      if (k == key) ++run;
      else add(k, 1);
    }
    key_ = key;
    run_ = run;
    ka_ = ka;
    kb_ = kb;
  }

  // The same for a ground-truth row given as value runs: each run's predicted bytes counted against
  // its value.
  void row_runs(RunMap& map, const std::uint8_t* b) {
    std::uint64_t* const hist = ws_.hist.data();
    std::vector<std::uint32_t>& keys = ws_.hist_keys;
    map.next_row_runs([&](std::uint32_t x0, std::uint32_t x1, std::uint32_t value) {
      count_byte_runs(b + x0, x1 - x0, [hist, &keys, gt = value << 8](std::uint8_t p, std::uint64_t n) {
        const std::uint32_t key = gt | p;
        if (hist[key] == 0) keys.push_back(key);
        hist[key] += n;
      });
    });
  }

  // Applies the tables to the pairs counted; false when a refused label occurred (the caller rescans
  // to name its first pixel). Leaves ws.hist all zero.
  bool finish(const LabelTable& gt_t, const LabelTable& pred_t, Counter& counter) {
    add(key_, run_);
    run_ = 0;
    std::int32_t gcode[256], pcode[256];
    for (int v = 0; v < 256; ++v) {
      gcode[v] = gt_t.code(v);
      pcode[v] = pred_t.code(v);
    }
    std::uint64_t* hist = ws_.hist.data();
    bool ok = true;
    for (std::uint32_t k : ws_.hist_keys) {
      const std::uint64_t n = hist[k];
      hist[k] = 0;
      const std::int32_t r = gcode[k >> 8], c = pcode[k & 255];
      if (r == kRefuse || c == kRefuse) ok = false;
      else if (ok && r >= 0 && c >= 0) counter.add(r, c, n);
    }
    ws_.hist_keys.clear();
    ws_.hist_dirty = false;
    return ok;
  }

 private:
  static constexpr std::uint64_t kOnes = 0x0101010101010101ull;

  void add(std::uint32_t key, std::uint64_t n) {
    if (n == 0) return;
    if (ws_.hist[key] == 0) ws_.hist_keys.push_back(key);
    ws_.hist[key] += n;
  }

  Workspace& ws_;
  std::uint32_t key_ = 0;
  std::uint64_t run_ = 0, ka_ = 0, kb_ = 0;
};

// The pixels of every instance (16-bit value >= instance_min) by raw predicted byte. A row is taken
// run by run of equal instance values (found four values at a time); runs below instance_min are
// skipped whole, and within an instance the predicted bytes are counted against the current byte,
// eight at a time.
class InstanceCounter {
 public:
  InstanceCounter(Workspace& ws, std::int64_t instance_min) : ws_(ws), min_(instance_min) {
    if (ws.instance_slot.size() != 65536) ws.instance_slot.assign(65536, -1);
    for (std::uint16_t v : ws.instance_values) ws.instance_slot[v] = -1;  // after an image that threw
    ws.instance_values.clear();
    ws.instance_counts.clear();
  }

  void row(const std::uint16_t* v, const std::uint8_t* p, std::uint32_t w) {
    std::uint32_t x = 0;
    while (x < w) {
      const std::uint16_t value = v[x];
      const std::uint64_t four = 0x0001000100010001ull * value;
      std::uint32_t end = x + 1;
      for (; end + 4 <= w; end += 4) {
        std::uint64_t next;
        std::memcpy(&next, v + end, 8);
        if (next != four) break;
      }
      while (end < w && v[end] == value) ++end;
      if (value >= min_) count_into(slot_counts(value), p + x, end - x);
      x = end;
    }
  }

  // The same for the next row of an instance map read as value runs.
  void row_runs(RunMap& map, const std::uint8_t* p) {
    map.next_row_runs([&](std::uint32_t x0, std::uint32_t x1, std::uint32_t value) {
      if (value >= min_) count_into(slot_counts(static_cast<std::uint16_t>(value)), p + x0, x1 - x0);
    });
  }

  // Appends (instance value, column, pixels) sorted, columns from the prediction table (n_cols for a
  // skipped prediction; a refused one never gets here), and leaves the workspace reset.
  void finish(const LabelTable& pred_t, std::int32_t n_cols, std::vector<SparseCount>& out) {
    std::sort(ws_.instance_values.begin(), ws_.instance_values.end());
    std::vector<std::uint64_t> by_col(std::size_t(n_cols) + 1);
    for (std::uint16_t value : ws_.instance_values) {
      const std::uint64_t* counts = ws_.instance_counts.data() + std::size_t(ws_.instance_slot[value]) * 256;
      std::fill(by_col.begin(), by_col.end(), 0);
      for (int b = 0; b < 256; ++b) {
        if (!counts[b]) continue;
        const std::int32_t c = pred_t.code(b);
        by_col[c >= 0 ? std::size_t(c) : std::size_t(n_cols)] += counts[b];
      }
      for (std::size_t c = 0; c < by_col.size(); ++c)
        if (by_col[c]) out.push_back({value, static_cast<std::int32_t>(c), by_col[c]});
      ws_.instance_slot[value] = -1;
    }
    ws_.instance_values.clear();
    ws_.instance_counts.clear();
  }

 private:
  static void count_into(std::uint64_t* counts, const std::uint8_t* p, std::uint32_t n) {
    count_byte_runs(p, n, [counts](std::uint8_t b, std::uint64_t k) { counts[b] += k; });
  }

  std::uint64_t* slot_counts(std::uint16_t value) {
    std::int32_t& slot = ws_.instance_slot[value];
    if (slot < 0) {
      slot = static_cast<std::int32_t>(ws_.instance_values.size());
      ws_.instance_values.push_back(value);
      ws_.instance_counts.resize(ws_.instance_counts.size() + 256, 0);
    }
    return ws_.instance_counts.data() + std::size_t(slot) * 256;
  }

  Workspace& ws_;
  std::int64_t min_;
};

}  // namespace semantic_detail
}  // namespace fastpq
