#include "semantic/confusion.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>


#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "png/label_png.hpp"
#include "png/mask_png.hpp"
#include "png/png_chunks.hpp"

namespace fastpq {
namespace {

constexpr std::size_t kKeepBufferBytes = std::size_t{256} << 20;
constexpr std::size_t kDenseLimit = std::size_t{1} << 20;  // matrices up to this many cells are counted densely

// Row access to one label source, whatever it is.
class LabelRows {
 public:
  explicit LabelRows(InflateBackend backend) : png_(backend) {}

  void open(const LabelSource& s, std::uint64_t max_pixels) {
    src_ = &s;
    y_ = 0;
    if (s.kind == LabelSource::kArray) {
      height_ = static_cast<std::uint32_t>(s.height);
      width_ = static_cast<std::uint32_t>(s.width);
      if (std::uint64_t{s.height} * s.width > max_pixels)
        throw FormatError("array '" + s.name + "': " + std::to_string(s.width) + "x" + std::to_string(s.height) +
                          " pixels is larger than max_pixels=" + std::to_string(max_pixels));
      return;
    }
    if (s.kind == LabelSource::kFile)
      png_.open_file(s.name, max_pixels);
    else
      png_.open_memory(s.data, s.size, s.name, max_pixels);
    height_ = png_.height();
    width_ = png_.width();
  }

  std::uint32_t height() const { return height_; }
  std::uint32_t width() const { return width_; }
  bool byte_labels() const {
    return src_->kind == LabelSource::kArray ? src_->type == LabelSource::kU8 : png_.byte_labels();
  }
  const LabelSource& source() const { return *src_; }

  // The next row's labels as bytes (byte_labels() only).
  const std::uint8_t* next_bytes() {
    if (src_->kind == LabelSource::kArray) return src_->data + std::size_t{y_++} * width_;
    return png_.next_row_bytes();
  }

  // Whether next_u16 can give this source's rows (labels of at most 16 bits, one sample per pixel).
  bool u16_labels() const {
    if (src_->kind == LabelSource::kArray) return src_->type == LabelSource::kU8 || src_->type == LabelSource::kU16;
    return png_.label_bytes() <= 2 && png_.samples_per_pixel() == 1 && png_.bit_depth() >= 8;
  }

  // The next row's labels as uint16 (u16_labels() only).
  const std::uint16_t* next_u16() {
    const std::size_t w = width_;
    row16_.resize(w);
    std::uint16_t* out = row16_.data();
    if (src_->kind == LabelSource::kArray) {
      const std::size_t at = std::size_t{y_++} * w;
      if (src_->type == LabelSource::kU16) return reinterpret_cast<const std::uint16_t*>(src_->data) + at;
      const std::uint8_t* p = src_->data + at;
      for (std::size_t x = 0; x < w; ++x) out[x] = p[x];
      return out;
    }
    const std::uint8_t* row = png_.next_row_bytes();
    if (png_.label_bytes() == 2) {
      for (std::size_t x = 0; x < w; ++x) out[x] = static_cast<std::uint16_t>((row[2 * x] << 8) | row[2 * x + 1]);
    } else {
      for (std::size_t x = 0; x < w; ++x) out[x] = row[x];
    }
    return out;
  }

  // The next row's labels as int64.
  void next_values(std::int64_t* out) {
    if (src_->kind != LabelSource::kArray) {
      row32_.resize(width_);
      png_.next_row(row32_.data());
      for (std::uint32_t x = 0; x < width_; ++x) out[x] = row32_[x];
      return;
    }
    const std::size_t w = width_, at = std::size_t{y_++} * w;
    switch (src_->type) {
      case LabelSource::kU8: convert(reinterpret_cast<const std::uint8_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI8: convert(reinterpret_cast<const std::int8_t*>(src_->data) + at, w, out); break;
      case LabelSource::kU16: convert(reinterpret_cast<const std::uint16_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI16: convert(reinterpret_cast<const std::int16_t*>(src_->data) + at, w, out); break;
      case LabelSource::kU32: convert(reinterpret_cast<const std::uint32_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI32: convert(reinterpret_cast<const std::int32_t*>(src_->data) + at, w, out); break;
      case LabelSource::kI64: convert(reinterpret_cast<const std::int64_t*>(src_->data) + at, w, out); break;
      case LabelSource::kU64: {
        const std::uint64_t* p = reinterpret_cast<const std::uint64_t*>(src_->data) + at;
        // Values past int64 cannot be labels: they read as -1, outside every table.
        for (std::size_t x = 0; x < w; ++x) out[x] = p[x] > 0x7FFFFFFFFFFFFFFFull ? -1 : static_cast<std::int64_t>(p[x]);
        break;
      }
    }
  }

  void shrink() { png_.shrink_if_above(kKeepBufferBytes); }

 private:
  template <typename T>
  static void convert(const T* p, std::size_t w, std::int64_t* out) {
    for (std::size_t x = 0; x < w; ++x) out[x] = static_cast<std::int64_t>(p[x]);
  }

  LabelPngReader png_;
  const LabelSource* src_ = nullptr;
  std::uint32_t height_ = 0, width_ = 0, y_ = 0;
  std::vector<std::uint32_t> row32_;
  std::vector<std::uint16_t> row16_;
};

// A greyscale PNG label map read as runs of equal values per row (fastpq's mask reader): a map whose
// rows mostly repeat the row above costs about its compressed size, not a byte or two a pixel.
struct RunMap {
  explicit RunMap(InflateBackend b) : png(b) {}

  // Opens source `s` when it is a PNG (file or bytes) of 8-bit grey, or 16-bit grey with `sixteen`,
  // not interlaced; returns false, having read nothing, for anything else (the row reader's). For
  // such files the mask reader gives the row reader's messages, but it checks every row's filter
  // type when opening, not row by row.
  bool open(const LabelSource& s, std::uint64_t max_pixels, bool sixteen) {
    active = false;
    if (s.kind == LabelSource::kArray) return false;
    const std::uint8_t* data = s.data;
    std::size_t size = s.size;
    if (s.kind == LabelSource::kFile) {
      size = read_png_file(s.name, file);
      data = file.data();
    }
    // IHDR is the first chunk of any PNG either reader accepts: bit depth, colour type, interlace.
    const bool grey = size >= 29 && std::memcmp(data + 12, "IHDR", 4) == 0 &&
                      (data[24] == 8 || (sixteen && data[24] == 16)) && data[25] == 0 && data[28] == 0;
    if (!grey) return false;
    png.open_memory(data, size, s.name, max_pixels, MaskPngReader::Output::kValues);
    active = true;
    return true;
  }
  void release() {
    active = false;
    png.trim();
    file.shrink_if_above(kKeepBufferBytes);
  }

  MaskPngReader png;
  ByteBuffer file;
  bool active = false;
};

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
  bool dense_dirty = true;
  // Instance pixels by raw predicted byte: slot of each 16-bit instance value (-1: none yet), the
  // values with a slot, and 256 counts per slot; reset after every image.
  std::vector<std::int32_t> instance_slot;
  std::vector<std::uint16_t> instance_values;
  std::vector<std::uint64_t> instance_counts;
  std::unordered_map<std::uint64_t, std::uint64_t> sparse, instances;
  std::vector<std::int64_t> g, p, i;
};

Workspace& thread_workspace(InflateBackend backend) {
  thread_local std::unique_ptr<Workspace> ws;
  if (!ws || ws->backend != backend) ws = std::make_unique<Workspace>(backend);
  return *ws;
}

[[noreturn]] void refuse(const LabelSource& s, std::int64_t value, std::uint32_t x, std::uint32_t y) {
  throw FormatError("'" + s.name + "': label " + std::to_string(value) + " at pixel (x=" + std::to_string(x) +
                    ", y=" + std::to_string(y) + ") is not an evaluated label (neither a class nor ignored)");
}

std::string size_text(std::uint32_t width, std::uint32_t height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

// A map's name and size, for messages, from either reader.
struct MapSize {
  const std::string& name;
  std::uint32_t width, height;
};

MapSize size_of(const LabelRows& r) { return {r.source().name, r.width(), r.height()}; }
MapSize size_of(const RunMap& r, const LabelSource& s) { return {s.name, r.png.width(), r.png.height()}; }

void check_same_size(const MapSize& a, const char* what_a, const MapSize& b, const char* what_b) {
  if (a.width != b.width || a.height != b.height)
    throw FormatError(std::string("label maps differ in size: ") + what_a + " '" + a.name + "' is " +
                      size_text(a.width, a.height) + " pixels but " + what_b + " '" + b.name + "' is " +
                      size_text(b.width, b.height));
}

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
      std::sort(ws_.dense_keys.begin(), ws_.dense_keys.end());
      for (std::uint64_t k : ws_.dense_keys) {
        out.push_back({std::int64_t(k / cols_), std::int32_t(k % cols_), ws_.dense[k]});
        ws_.dense[k] = 0;
      }
      ws_.dense_keys.clear();
      ws_.dense_dirty = false;
    } else {
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

// Calls add(value, count) for each run of equal bytes of p[0, n) (n > 0), in order, comparing eight
// bytes at a time where they repeat.
template <typename Add>
inline void count_byte_runs(const std::uint8_t* p, std::uint32_t n, Add&& add) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  std::uint8_t current = p[0];
  std::uint64_t run = 0, eight = kOnes * current;
  std::uint32_t i = 0;
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
    for (; x + 8 <= w; x += 8) {
      std::uint64_t a0, b0;
      std::memcpy(&a0, a + x, 8);
      std::memcpy(&b0, b + x, 8);
      const std::uint64_t d = (a0 ^ ka) | (b0 ^ kb);
      if (d == 0) {
        run += 8;
        continue;
      }
      std::uint64_t m = (((d & kLow7) + kLow7) | d) & kHigh;  // the high bit of each differing byte
      const int others = static_cast<int>(((m >> 7) * kOnes) >> 56);  // their count, without a popcount call
      run += static_cast<std::uint64_t>(8 - others);
      for (; m; m &= m - 1) {
        const std::uint32_t i = x + static_cast<std::uint32_t>(__builtin_ctzll(m) >> 3);
        add((std::uint32_t{a[i]} << 8) | b[i], 1);
      }
      if (others > 4) {
        if (run) add(key, run);
        run = 0;
        key = (std::uint32_t{a[x + 7]} << 8) | b[x + 7];
        ka = kOnes * (key >> 8);
        kb = kOnes * (key & 255);
      }
    }
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
  void row_runs(const MaskPngReader& map, std::uint32_t y, const std::uint8_t* b, std::uint32_t w) {
    std::uint64_t* const hist = ws_.hist.data();
    std::vector<std::uint32_t>& keys = ws_.hist_keys;
    const std::uint32_t* start = map.value_start().data();
    const std::uint32_t* value = map.value_of().data();
    const std::size_t first = map.value_row()[y], last = map.value_row()[y + 1];
    for (std::size_t k = first; k < last; ++k) {
      const std::uint32_t x0 = start[k], x1 = k + 1 < last ? start[k + 1] : w, gt = value[k] << 8;
      count_byte_runs(b + x0, x1 - x0, [hist, &keys, gt](std::uint8_t p, std::uint64_t n) {
        const std::uint32_t key = gt | p;
        if (hist[key] == 0) keys.push_back(key);
        hist[key] += n;
      });
    }
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

  // The same for row y of an instance map read as value runs.
  void row_runs(const MaskPngReader& map, std::uint32_t y, const std::uint8_t* p, std::uint32_t w) {
    const std::uint32_t* start = map.value_start().data();
    const std::uint32_t* value = map.value_of().data();
    const std::size_t first = map.value_row()[y], last = map.value_row()[y + 1];
    for (std::size_t k = first; k < last; ++k) {
      if (value[k] < min_) continue;
      const std::uint32_t x0 = start[k], x1 = k + 1 < last ? start[k + 1] : w;
      count_into(slot_counts(static_cast<std::uint16_t>(value[k])), p + x0, x1 - x0);
    }
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

// Both maps of 8-bit labels (and instance maps of at most 16 bits): raw byte pairs counted, the
// tables applied once per image. Returns false when a refused label occurs.
bool count_bytes(Workspace& ws, const LabelTable& gt_t, const LabelTable& pred_t, bool with_instances,
                 const SemanticOptions& o, Counter& counter, std::vector<SparseCount>& instances) {
  BytePairCounter pairs(ws);
  InstanceCounter inst(ws, o.instance_min);
  const std::uint32_t w = ws.pred.width(), h = ws.pred.height();
  for (std::uint32_t y = 0; y < h && w > 0; ++y) {
    const std::uint8_t* b = ws.pred.next_bytes();
    if (ws.gt_runs.active) pairs.row_runs(ws.gt_runs.png, y, b, w);
    else pairs.row(ws.gt.next_bytes(), b, w);
    if (!with_instances) continue;
    if (ws.inst_runs.active) inst.row_runs(ws.inst_runs.png, y, b, w);
    else inst.row(ws.inst.next_u16(), b, w);
  }
  if (!pairs.finish(gt_t, pred_t, counter)) return false;
  instances.clear();
  if (with_instances) inst.finish(pred_t, o.n_cols, instances);
  return true;
}

// Any label types: int64 rows, run by run, tables applied per run. Throws at the first refused label.
void count_values(Workspace& ws, const LabelTable& gt_t, const LabelTable& pred_t, bool with_instances,
                  const SemanticOptions& o, Counter& counter) {
  const std::uint32_t w = ws.gt.width(), h = ws.gt.height();
  ws.g.resize(w);
  ws.p.resize(w);
  if (with_instances) ws.i.resize(w);
  ws.instances.clear();
  const std::uint64_t cols = std::uint64_t(o.n_cols) + 1;
  for (std::uint32_t y = 0; y < h; ++y) {
    ws.gt.next_values(ws.g.data());
    ws.pred.next_values(ws.p.data());
    const std::int64_t* g = ws.g.data();
    const std::int64_t* p = ws.p.data();
    std::uint32_t start = 0;
    for (std::uint32_t x = 1; x <= w; ++x) {
      if (x < w && g[x] == g[start] && p[x] == p[start]) continue;
      const std::int32_t r = gt_t.code(g[start]);
      if (r == kRefuse) refuse(ws.gt.source(), g[start], start, y);
      const std::int32_t c = pred_t.code(p[start]);
      if (c == kRefuse) refuse(ws.pred.source(), p[start], start, y);
      if (r >= 0 && c >= 0) counter.add(r, c, x - start);
      start = x;
    }
    if (!with_instances) continue;
    ws.inst.next_values(ws.i.data());
    const std::int64_t* v = ws.i.data();
    start = 0;
    for (std::uint32_t x = 1; x <= w; ++x) {
      if (x < w && v[x] == v[start] && p[x] == p[start]) continue;
      if (v[start] >= o.instance_min) {
        if (v[start] >= (std::int64_t{1} << 40))
          throw FormatError("'" + ws.inst.source().name + "': instance value " + std::to_string(v[start]) +
                            " at pixel (x=" + std::to_string(start) + ", y=" + std::to_string(y) + ") is too large");
        const std::int32_t c = pred_t.code(p[start]);
        const std::uint64_t col = c >= 0 ? std::uint64_t(c) : std::uint64_t(o.n_cols);
        ws.instances[std::uint64_t(v[start]) * cols + col] += x - start;
      }
      start = x;
    }
  }
}

// The instance counts count_values gathered, sorted by (instance value, column).
void fill_instances(Workspace& ws, const SemanticOptions& o, std::vector<SparseCount>& out) {
  const std::uint64_t cols = std::uint64_t(o.n_cols) + 1;
  for (const auto& kv : ws.instances)
    out.push_back({std::int64_t(kv.first / cols), std::int32_t(kv.first % cols), kv.second});
  std::sort(out.begin(), out.end(), [](const SparseCount& a, const SparseCount& b) {
    return a.row != b.row ? a.row < b.row : a.col < b.col;
  });
}

void count_image(const LabelSource& gt, const LabelSource& pred, const LabelSource* inst, const LabelTable& gt_t,
                 const LabelTable& pred_t, const SemanticOptions& o, Workspace& ws, SemanticImage& out) {
  // 8-bit grey ground truth beside 8-bit predictions (and 8/16-bit grey instance maps) is read as
  // runs; everything else, and everything when a refused label is to be found, row by row.
  if (!ws.gt_runs.open(gt, o.max_pixels, false)) ws.gt.open(gt, o.max_pixels);
  ws.pred.open(pred, o.max_pixels);
  if (ws.gt_runs.active && !ws.pred.byte_labels()) {
    ws.gt_runs.active = false;
    ws.gt.open(gt, o.max_pixels);
  }
  const MapSize gt_size = ws.gt_runs.active ? size_of(ws.gt_runs, gt) : size_of(ws.gt);
  check_same_size(gt_size, "ground truth", size_of(ws.pred), "prediction");
  const bool bytes = ws.gt_runs.active || (ws.gt.byte_labels() && ws.pred.byte_labels());
  if (inst && !(bytes && ws.inst_runs.open(*inst, o.max_pixels, true))) ws.inst.open(*inst, o.max_pixels);
  if (inst)
    check_same_size(gt_size, "ground truth", ws.inst_runs.active ? size_of(ws.inst_runs, *inst) : size_of(ws.inst),
                    "instance map");
  out.height = gt_size.height;
  out.width = gt_size.width;
  Counter counter(o, ws);
  const bool by_bytes = bytes && (!inst || ws.inst_runs.active || ws.inst.u16_labels());
  if (!by_bytes && ws.gt_runs.active) {  // the general path reads rows
    ws.gt_runs.active = false;
    ws.gt.open(gt, o.max_pixels);
  }
  if (by_bytes) {
    if (!count_bytes(ws, gt_t, pred_t, inst != nullptr, o, counter, out.instances)) {
      ws.gt.open(gt, o.max_pixels);  // name the first refused pixel: rescan row by row, which throws there
      ws.pred.open(pred, o.max_pixels);
      if (inst) ws.inst.open(*inst, o.max_pixels);
      Counter again(o, ws);
      count_values(ws, gt_t, pred_t, inst != nullptr, o, again);
      throw UsageError("internal error: a refused label was not found again");
    }
    counter.collect(out.confusion);
  } else {
    count_values(ws, gt_t, pred_t, inst != nullptr, o, counter);
    counter.collect(out.confusion);
    out.instances.clear();
    if (inst) fill_instances(ws, o, out.instances);
  }
  ws.gt.shrink();
  ws.pred.shrink();
  ws.inst.shrink();
  ws.gt_runs.release();
  ws.inst_runs.release();
}

void check_table(const LabelTable& t, std::int32_t n, const char* what) {
  auto ok = [n](std::int32_t c) { return c == kSkip || c == kRefuse || (c >= 0 && c < n); };
  if (!ok(t.other)) throw UsageError(std::string(what) + " table: the code for other values is out of range");
  for (std::int32_t c : t.lut)
    if (!ok(c)) throw UsageError(std::string(what) + " table holds a code out of range");
}

}  // namespace

SemanticResult semantic_confusion(const std::vector<LabelSource>& gt, const std::vector<LabelSource>& pred,
                                  const std::vector<LabelSource>* instances, const LabelTable& gt_table,
                                  const LabelTable& pred_table, const SemanticOptions& o) {
  if (gt.size() != pred.size()) throw UsageError("as many predictions as ground-truth maps are needed");
  if (instances && instances->size() != gt.size()) throw UsageError("as many instance maps as ground-truth maps are needed");
  if (o.n_rows < 1 || o.n_cols < 1 || o.n_cols >= (1 << 21)) throw UsageError("n_rows and n_cols out of range");
  check_table(gt_table, o.n_rows, "ground-truth");
  check_table(pred_table, o.n_cols, "prediction");
  const std::int64_t n = static_cast<std::int64_t>(gt.size());
  SemanticResult result;
  result.images.resize(gt.size());
  std::atomic<std::int64_t> first_failure{n};
  std::mutex mutex;
  std::string message;
  bool missing = false;
  auto record = [&](std::int64_t i, std::string what, bool not_found) {
    std::lock_guard<std::mutex> lock(mutex);
    if (i < first_failure.load()) {
      first_failure.store(i);
      message = std::move(what);
      missing = not_found;
    }
  };
  parallel_for(n, o.workers, [&](std::int64_t i) {
    if (i > first_failure.load(std::memory_order_relaxed)) return;
    const std::size_t at = static_cast<std::size_t>(i);
    try {
      Workspace& ws = thread_workspace(o.inflate);
      count_image(gt[at], pred[at], instances ? &(*instances)[at] : nullptr, gt_table, pred_table, o, ws,
                  result.images[at]);
    } catch (const FileNotFound& e) {
      record(i, e.what(), true);
    } catch (const std::bad_alloc&) {
      record(i, "out of memory while reading '" + gt[at].name + "' and '" + pred[at].name + "'", false);
    } catch (const std::exception& e) {
      record(i, e.what(), false);
    }
  });
  if (first_failure.load() < n) {
    if (missing) throw FileNotFound(message);
    throw FormatError(message);
  }
  result.confusion.assign(std::size_t(o.n_rows) * std::size_t(o.n_cols), 0);
  for (const SemanticImage& image : result.images) {
    result.pixels += std::uint64_t{image.height} * image.width;
    for (const SparseCount& e : image.confusion) result.confusion[std::size_t(e.row) * o.n_cols + e.col] += e.count;
  }
  return result;
}

void read_labels(const LabelSource& source, std::uint64_t max_pixels, InflateBackend inflate,
                 std::vector<std::int64_t>& out, std::uint32_t& height, std::uint32_t& width) {
  LabelRows rows(inflate);
  rows.open(source, max_pixels);
  height = rows.height();
  width = rows.width();
  out.resize(std::size_t{height} * width);
  for (std::uint32_t y = 0; y < height; ++y) rows.next_values(out.data() + std::size_t{y} * width);
}

}  // namespace fastpq
