#include "panoptic/combine.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "common/box.hpp"
#include "common/errors.hpp"
#include "common/parallel.hpp"

namespace fastpq {

namespace {

// Category index of a semantic value; -1 for none. Ids below kDenseIds (all a uint8 or uint16 map
// can hold) are looked up in a table, larger ones by binary search, so memory stays bounded (at
// most 256 KiB) whatever the category ids: a dense table up to id 2^31 - 1 would take 8 GiB.
class CategoryLookup {
 public:
  static constexpr std::int64_t kDenseIds = std::int64_t{1} << 16;

  explicit CategoryLookup(const CategoryTable& categories) {
    std::int64_t dense_size = 0;
    for (std::size_t c = 0; c < categories.size(); ++c) {
      const std::int32_t id = categories.ids[c];
      if (id < 0) throw UsageError("category ids must not be negative");
      if (id < kDenseIds) dense_size = std::max<std::int64_t>(dense_size, id + 1);
      else sparse_.emplace_back(id, static_cast<std::int32_t>(c));
    }
    dense_.assign(static_cast<std::size_t>(dense_size), -1);
    for (std::size_t c = 0; c < categories.size(); ++c)
      if (categories.ids[c] < kDenseIds) dense_[categories.ids[c]] = static_cast<std::int32_t>(c);
    std::sort(sparse_.begin(), sparse_.end());
  }

  std::int32_t operator()(std::int64_t value) const {
    if (value >= 0 && value < static_cast<std::int64_t>(dense_.size())) return dense_[value];
    if (value < kDenseIds || sparse_.empty()) return -1;
    const auto it = std::lower_bound(sparse_.begin(), sparse_.end(), value,
                                     [](const std::pair<std::int32_t, std::int32_t>& e, std::int64_t v) { return e.first < v; });
    return it != sparse_.end() && it->first == value ? it->second : -1;
  }

 private:
  std::vector<std::int32_t> dense_;
  std::vector<std::pair<std::int32_t, std::int32_t>> sparse_;  // (category id, index), ascending
};

// Calls f(p) for every column-major pixel position p in the foreground runs of `rle`.
template <typename F>
void for_each_run(const Rle& rle, F f) {
  std::uint64_t p = 0;
  for (std::size_t k = 0; k < rle.counts.size(); ++k) {
    const std::uint64_t n = rle.counts[k];
    if (k % 2 == 1 && n) f(p, p + n);
    p += n;
  }
}

// Calls f(y, x0, x1, v) for each maximal run [x0, x1) of one semantic value v in row y. Semantic
// maps are mostly long runs, so the stuff pass works per run rather than per pixel.
template <typename T, typename F>
void for_each_value_run(const T* semantic, std::uint32_t h, std::uint32_t w, F f) {
  for (std::uint32_t y = 0; y < h; ++y) {
    const T* row = semantic + static_cast<std::size_t>(y) * w;
    std::uint32_t x0 = 0;
    while (x0 < w) {
      const T v = row[x0];
      std::uint32_t x1 = x0 + 1;
      while (x1 < w && row[x1] == v) ++x1;
      f(y, x0, x1, static_cast<std::int64_t>(v));
      x0 = x1;
    }
  }
}

template <typename T>
void add_stuff(const T* semantic, const CategoryTable& categories, const CategoryLookup& lookup,
               const CombineOptions& options, SegmentIdGenerator& ids, std::uint32_t h, std::uint32_t w,
               std::uint32_t* out, std::vector<CombinedSegment>& segments) {
  const auto is_void = [&](std::int64_t v) { return options.has_void && v == options.void_value; };
  // Pass 1: pixels no instance took, per category.
  std::vector<std::uint64_t> left(categories.size(), 0);
  for_each_value_run(semantic, h, w, [&](std::uint32_t y, std::uint32_t x0, std::uint32_t x1, std::int64_t v) {
    if (is_void(v)) return;
    const std::int32_t c = lookup(v);
    if (c < 0)
      throw UsageError("the semantic map has value " + std::to_string(v) + " at (x=" + std::to_string(x0) +
                       ", y=" + std::to_string(y) + "), which is neither a category id nor the void value");
    const std::uint32_t* row = out + static_cast<std::size_t>(y) * w;
    left[c] += static_cast<std::uint64_t>(std::count(row + x0, row + x1, 0u));
  });
  // Stuff categories in ascending id order, kept when enough of them is left.
  std::vector<std::size_t> order;
  for (std::size_t c = 0; c < categories.size(); ++c)
    if (!categories.isthing[c] && left[c] > 0 && !(static_cast<double>(left[c]) < options.stuff_area_limit))
      order.push_back(c);
  if (order.empty()) return;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return categories.ids[a] < categories.ids[b]; });
  std::vector<std::uint32_t> id_of(categories.size(), 0);
  std::vector<std::int32_t> slot(categories.size(), -1);
  std::vector<Box> boxes(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    id_of[order[k]] = ids.next(order[k]);
    slot[order[k]] = static_cast<std::int32_t>(k);
  }
  // Pass 2: paint them.
  for_each_value_run(semantic, h, w, [&](std::uint32_t y, std::uint32_t x0, std::uint32_t x1, std::int64_t v) {
    if (is_void(v)) return;
    const std::int32_t k = slot[lookup(v)];  // pass 1 refused values that are no category
    if (k < 0) return;
    const std::uint32_t id = id_of[order[k]];
    std::uint32_t* row = out + static_cast<std::size_t>(y) * w;
    std::uint32_t first = x1, last = 0, painted = 0;
    for (std::uint32_t x = x0; x < x1; ++x) {
      if (row[x] != 0) continue;
      row[x] = id;
      first = std::min(first, x), last = x, ++painted;
    }
    if (painted) boxes[k].add_run(y, first, last, painted);
  });
  for (std::size_t k = 0; k < order.size(); ++k)
    segments.push_back({id_of[order[k]], order[k], boxes[k].area, boxes[k].bbox()});
}

std::vector<CombinedSegment> combine_image(CombineImage& image, const CategoryTable& categories,
                                           const CategoryLookup& lookup, const CombineOptions& options) {
  const std::uint32_t h = image.height, w = image.width;
  const std::size_t n = static_cast<std::size_t>(h) * w;
  for (std::size_t k = 0; k < image.instances.size(); ++k) {
    CombineInstance& inst = image.instances[k];
    if (!inst.compressed.empty()) {
      try {
        inst.mask = rle_from_string(inst.compressed, inst.mask.h, inst.mask.w);
      } catch (const MaskError& e) {
        throw MaskError("instance " + std::to_string(k) + ": " + e.what());
      }
      inst.compressed.clear();
    }
    const Rle& m = inst.mask;
    if (m.h != h || m.w != w)
      throw UsageError("instance " + std::to_string(k) + " has a " + std::to_string(m.h) + "x" + std::to_string(m.w) +
                       " mask in a " + std::to_string(h) + "x" + std::to_string(w) + " image");
    if (image.instances[k].category >= categories.size()) throw UsageError("instance category index out of range");
  }
  std::vector<const CombineInstance*> ranked;
  for (const auto& inst : image.instances)
    if (!(inst.score < options.confidence_thr)) ranked.push_back(&inst);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const CombineInstance* a, const CombineInstance* b) { return a->score > b->score; });

  SegmentIdGenerator ids(categories);
  std::vector<CombinedSegment> segments;
  // Things are placed in column-major order, the order of the RLE runs, then transposed.
  std::vector<std::uint32_t> work(ranked.empty() ? 0 : n, 0);
  std::vector<Box> boxes;
  for (const CombineInstance* inst : ranked) {
    const std::uint64_t area = rle_area(inst->mask);
    if (area == 0) continue;
    std::uint64_t taken = 0;
    for_each_run(inst->mask, [&](std::uint64_t s, std::uint64_t e) {
      for (std::uint64_t p = s; p < e; ++p) taken += work[p] != 0;
    });
    if (static_cast<double>(taken) / static_cast<double>(area) > options.overlap_thr) continue;
    const std::uint32_t id = ids.next(inst->category);
    Box box;
    for_each_run(inst->mask, [&](std::uint64_t s, std::uint64_t e) {
      std::uint32_t x = static_cast<std::uint32_t>(s / h), y = static_cast<std::uint32_t>(s % h);
      for (std::uint64_t p = s; p < e; ++p) {
        if (work[p] == 0) work[p] = id, box.add(x, y);
        if (++y == h) y = 0, ++x;
      }
    });
    if (box.area) segments.push_back({id, inst->category, box.area, box.bbox()});
  }
  if (ranked.empty()) {
    std::fill(image.out, image.out + n, 0u);
  } else {
    for (std::uint32_t x = 0; x < w; ++x)
      for (std::uint32_t y = 0; y < h; ++y) image.out[static_cast<std::size_t>(y) * w + x] = work[static_cast<std::size_t>(x) * h + y];
  }
  switch (image.semantic.type) {
    case SemanticType::kU8:
      if (image.semantic.data)
        add_stuff(static_cast<const std::uint8_t*>(image.semantic.data), categories, lookup, options, ids, h, w,
                  image.out, segments);
      break;
    case SemanticType::kU16:
      if (image.semantic.data)
        add_stuff(static_cast<const std::uint16_t*>(image.semantic.data), categories, lookup, options, ids, h, w,
                  image.out, segments);
      break;
    case SemanticType::kI32:
      if (image.semantic.data)
        add_stuff(static_cast<const std::int32_t*>(image.semantic.data), categories, lookup, options, ids, h, w,
                  image.out, segments);
      break;
  }
  return segments;
}

}  // namespace

CombineResult combine_panoptic(std::vector<CombineImage>& images, const CategoryTable& categories,
                               const CombineOptions& options) {
  if (categories.isthing.size() != categories.size() || categories.colors.size() != categories.size())
    throw UsageError("category table columns differ in length");
  const CategoryLookup lookup(categories);
  CombineResult result;
  result.segments.resize(images.size());
  std::vector<std::string> errors(images.size());
  parallel_for(static_cast<std::int64_t>(images.size()), options.workers, [&](std::int64_t i) {
    try {
      result.segments[i] = combine_image(images[i], categories, lookup, options);
    } catch (const std::exception& e) {
      errors[i] = e.what();
      if (errors[i].empty()) errors[i] = "unknown error";
    }
  });
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (!errors[i].empty()) {
      result.failed_image = static_cast<std::ptrdiff_t>(i);
      result.failure = errors[i];
      break;
    }
  }
  return result;
}

}  // namespace fastpq
