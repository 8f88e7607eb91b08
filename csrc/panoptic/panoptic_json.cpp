#include "panoptic/panoptic_json.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>
#include <unordered_map>

namespace fastpq {
namespace {

struct GiveUp {};

constexpr int kMaxDepth = 64;       // COCO files nest five deep
constexpr int kMaxExponent = 300;   // beyond it a double may overflow, which the parsers treat apart

struct Number {
  bool integer = true, fits = true;  // fits: an integer within int64
  std::int64_t value = 0;
  JsonSpan text;
};

// A strict recursive-descent reader of the JSON subset above; throws GiveUp on anything else.
class Reader {
 public:
  Reader(const char* text, std::size_t size) : begin_(text), p_(text), end_(text + size) {}

  std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  char peek() {
    ws();
    if (p_ == end_) throw GiveUp{};
    return *p_;
  }
  void expect(char c) {
    if (peek() != c) throw GiveUp{};
    ++p_;
  }
  void at_end() {
    ws();
    if (p_ != end_) throw GiveUp{};
  }

  // A string's characters: printable ASCII without escapes.
  JsonSpan string() {
    expect('"');
    const std::size_t begin = offset();
    for (;;) {
      if (p_ == end_) throw GiveUp{};
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20 || c >= 0x7F || c == '\\') throw GiveUp{};
      ++p_;
    }
    const JsonSpan s{begin, offset()};
    ++p_;
    return s;
  }

  Number number() {
    ws();
    Number n;
    n.text.begin = offset();
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !digit(*p_)) throw GiveUp{};
    if (*p_ == '0') ++p_;
    else digits();
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !digit(*p_)) throw GiveUp{};
      digits();
      n.integer = false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) throw GiveUp{};
      int exponent = 0;
      while (p_ < end_ && digit(*p_)) {
        exponent = exponent * 10 + (*p_++ - '0');
        if (exponent > kMaxExponent) throw GiveUp{};
      }
      n.integer = false;
    }
    n.text.end = offset();
    if (n.integer) {
      const auto r = std::from_chars(begin_ + n.text.begin, begin_ + n.text.end, n.value);
      n.fits = r.ec == std::errc() && r.ptr == begin_ + n.text.end;
    }
    return n;
  }

  std::int64_t integer() {
    const Number n = number();
    if (!n.integer || !n.fits) throw GiveUp{};
    return n.value;
  }

  double real() {
    const Number n = number();
    if (n.integer) {
      if (!n.fits) throw GiveUp{};
      return static_cast<double>(n.value);
    }
    double v = 0;
    const auto r = std::from_chars(begin_ + n.text.begin, begin_ + n.text.end, v);
    if (r.ec != std::errc() || r.ptr != begin_ + n.text.end) throw GiveUp{};
    return v;
  }

  // Any value, checked and skipped.
  void skip(int depth) {
    if (depth > kMaxDepth) throw GiveUp{};
    switch (peek()) {
      case '{': object(depth, [&](JsonSpan) { skip(depth + 1); }); break;
      case '[': array(depth, [&] { skip(depth + 1); }); break;
      case '"': string(); break;
      case 't': literal("true"); break;
      case 'f': literal("false"); break;
      case 'n': literal("null"); break;
      default: number();
    }
  }

  // An object: on_key(key) reads each member's value.
  template <typename OnKey>
  void object(int depth, OnKey&& on_key) {
    if (depth > kMaxDepth) throw GiveUp{};
    expect('{');
    if (peek() == '}') {
      ++p_;
      return;
    }
    for (;;) {
      const JsonSpan key = string();
      expect(':');
      on_key(key);
      if (peek() == '}') {
        ++p_;
        return;
      }
      expect(',');
    }
  }

  // An array: on_item() reads each element.
  template <typename OnItem>
  void array(int depth, OnItem&& on_item) {
    if (depth > kMaxDepth) throw GiveUp{};
    expect('[');
    if (peek() == ']') {
      ++p_;
      return;
    }
    for (;;) {
      on_item();
      if (peek() == ']') {
        ++p_;
        return;
      }
      expect(',');
    }
  }

  bool is(JsonSpan key, std::string_view name) const {
    return key.end - key.begin == name.size() && std::memcmp(begin_ + key.begin, name.data(), name.size()) == 0;
  }

 private:
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  void digits() {
    while (p_ < end_ && digit(*p_)) ++p_;
  }
  void literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      throw GiveUp{};
    p_ += word.size();
  }

  const char* begin_;
  const char* p_;
  const char* end_;
};

// Marks a key of interest seen; a second one gives up (Python keeps the last, at the first's place).
void once(bool& seen) {
  if (seen) throw GiveUp{};
  seen = true;
}

JsonSegment segment(Reader& r, int depth, bool ground_truth) {
  JsonSegment s;
  bool id = false, category = false, crowd = !ground_truth, area = !ground_truth;
  if (r.peek() != '{') throw GiveUp{};
  r.object(depth, [&](JsonSpan key) {
    if (r.is(key, "id")) {
      once(id);
      s.id = r.integer();
      if (s.id == INT64_MIN) throw GiveUp{};  // the Python reader takes -INT64_MAX..INT64_MAX
    } else if (r.is(key, "category_id")) {
      once(category);
      s.category_id = r.integer();
    } else if (ground_truth && r.is(key, "iscrowd")) {
      once(crowd);
      s.iscrowd = r.integer();
    } else if (ground_truth && r.is(key, "area")) {
      once(area);
      s.area = r.real();
    } else {
      r.skip(depth + 1);
    }
  });
  if (!id || !category || !crowd || !area) throw GiveUp{};
  return s;
}

void annotation(Reader& r, int depth, bool ground_truth, PanopticJson& out) {
  JsonAnnotation a;
  bool image_id = false, file_name = false, segments = false;
  if (r.peek() != '{') throw GiveUp{};
  a.object.begin = r.offset();
  a.first_segment = out.segments.size();
  r.object(depth, [&](JsonSpan key) {
    if (r.is(key, "image_id")) {
      once(image_id);
      if (r.peek() == '"') {
        a.image_id.is_string = true;
        a.image_id.text = r.string();
      } else {
        a.image_id.value = r.integer();
      }
    } else if (r.is(key, "file_name")) {
      once(file_name);
      a.file_name = r.string();
    } else if (r.is(key, "segments_info")) {
      once(segments);
      if (r.peek() != '[') throw GiveUp{};
      r.array(depth + 1, [&] { out.segments.push_back(segment(r, depth + 2, ground_truth)); });
    } else {
      r.skip(depth + 1);
    }
  });
  if (!image_id || !file_name || !segments) throw GiveUp{};
  a.object.end = r.offset();
  a.segments = out.segments.size() - a.first_segment;
  out.annotations.push_back(a);
}

void category(Reader& r, int depth, PanopticJson& out) {
  bool id = false, isthing = false;
  if (r.peek() != '{') throw GiveUp{};
  r.object(depth, [&](JsonSpan key) {
    if (r.is(key, "id")) {
      once(id);
      out.category_ids.push_back(r.integer());
    } else {
      if (r.is(key, "isthing")) once(isthing);
      r.skip(depth + 1);
    }
  });
  if (!id || !isthing) throw GiveUp{};
}

// Whether two segments of [first, first + n) share an id.
bool repeated_id(const std::vector<JsonSegment>& segments, std::size_t first, std::size_t n,
                 std::vector<std::int64_t>& scratch) {
  scratch.clear();
  for (std::size_t k = first; k < first + n; ++k) scratch.push_back(segments[k].id);
  std::sort(scratch.begin(), scratch.end());
  return std::adjacent_find(scratch.begin(), scratch.end()) != scratch.end();
}

}  // namespace

bool parse_panoptic_json(const char* text, std::size_t size, bool ground_truth, PanopticJson& out) {
  out = PanopticJson{};
  out.segments.reserve(size / 96);  // a plain segment takes about 50 (prediction) to 150 bytes
  try {
    Reader r(text, size);
    bool annotations = false, categories = !ground_truth;
    r.object(1, [&](JsonSpan key) {
      if (r.is(key, "annotations")) {
        once(annotations);
        if (r.peek() != '[') throw GiveUp{};
        r.array(2, [&] { annotation(r, 3, ground_truth, out); });
      } else if (ground_truth && r.is(key, "categories")) {
        once(categories);
        if (r.peek() != '[') throw GiveUp{};
        out.categories.begin = r.offset();
        r.array(2, [&] { category(r, 3, out); });
        out.categories.end = r.offset();
      } else {
        r.skip(2);
      }
    });
    r.at_end();
    return annotations && categories;
  } catch (const GiveUp&) {
    out = PanopticJson{};
    return false;
  }
}

bool pair_panoptic_json(const PanopticJson& gt, const char* gt_text, const PanopticJson& pred, const char* pred_text,
                        std::size_t max_segments, PanopticJsonTables& out) {
  out = PanopticJsonTables{};
  out.gt_ids.reserve(gt.segments.size());
  out.gt_categories.reserve(gt.segments.size());
  out.gt_iscrowd.reserve(gt.segments.size());
  out.gt_areas.reserve(gt.segments.size());
  out.pred_ids.reserve(pred.segments.size());
  out.pred_categories.reserve(pred.segments.size());
  std::unordered_map<std::int64_t, std::int64_t> category_index;
  for (std::int64_t id : gt.category_ids)
    category_index.emplace(id, static_cast<std::int64_t>(category_index.size()));
  auto index_of = [&](std::int64_t id) {
    const auto it = category_index.find(id);
    return it == category_index.end() ? std::int64_t{-1} : it->second;
  };
  // The last prediction of each image id, as a dict keeps it.
  std::unordered_map<std::int64_t, std::size_t> by_number;
  std::unordered_map<std::string_view, std::size_t> by_string;
  auto text_of = [](const char* text, JsonSpan s) { return std::string_view(text + s.begin, s.end - s.begin); };
  for (std::size_t k = 0; k < pred.annotations.size(); ++k) {
    const JsonImageId& id = pred.annotations[k].image_id;
    if (id.is_string) by_string[text_of(pred_text, id.text)] = k;
    else by_number[id.value] = k;
  }
  std::vector<std::int64_t> scratch;
  for (std::size_t g = 0; g < gt.annotations.size(); ++g) {
    const JsonAnnotation& a = gt.annotations[g];
    std::size_t p = 0;
    if (a.image_id.is_string) {
      const auto it = by_string.find(text_of(gt_text, a.image_id.text));
      if (it == by_string.end()) return false;
      p = it->second;
    } else {
      const auto it = by_number.find(a.image_id.value);
      if (it == by_number.end()) return false;
      p = it->second;
    }
    const JsonAnnotation& b = pred.annotations[p];
    if (a.segments > max_segments || b.segments > max_segments) return false;
    if (repeated_id(gt.segments, a.first_segment, a.segments, scratch) ||
        repeated_id(pred.segments, b.first_segment, b.segments, scratch))
      return false;
    out.gt_annotation.push_back(g);
    out.pred_annotation.push_back(p);
    for (std::size_t k = a.first_segment; k < a.first_segment + a.segments; ++k) {
      const JsonSegment& s = gt.segments[k];
      out.gt_ids.push_back(s.id);
      out.gt_categories.push_back(index_of(s.category_id));
      out.gt_iscrowd.push_back(s.iscrowd == 1 ? 1 : 0);
      out.gt_areas.push_back(s.area);
    }
    for (std::size_t k = b.first_segment; k < b.first_segment + b.segments; ++k) {
      out.pred_ids.push_back(pred.segments[k].id);
      out.pred_categories.push_back(index_of(pred.segments[k].category_id));
    }
    out.gt_offsets.push_back(static_cast<std::int64_t>(out.gt_ids.size()));
    out.pred_offsets.push_back(static_cast<std::int64_t>(out.pred_ids.size()));
  }
  return true;
}

}  // namespace fastpq
