#include "panoptic/category_confusion.hpp"

#include <algorithm>
#include <utility>

namespace fastpq {
namespace {

// id -> category of one side's segments, sorted by id for binary search.
template <typename Segments>
void sorted_categories(const Segments& s, std::vector<std::pair<std::int64_t, std::int32_t>>& out) {
  out.clear();
  out.reserve(s.size);
  for (std::size_t i = 0; i < s.size; ++i) out.emplace_back(s.id[i], s.category[i]);
  std::sort(out.begin(), out.end());
}

std::int32_t category_of(const std::vector<std::pair<std::int64_t, std::int32_t>>& table, std::int64_t id,
                         std::int32_t void_index) {
  if (id == 0) return void_index;
  auto it = std::lower_bound(table.begin(), table.end(), std::make_pair(id, INT32_MIN));
  if (it == table.end() || it->first != id) return void_index;
  const std::int32_t c = it->second;
  return (c >= 0 && c < void_index) ? c : void_index;
}

}  // namespace

void category_confusion(const std::vector<HistEntry>& entries, const GtSegments& gt, const PredSegments& pred,
                        std::int32_t n_categories, std::vector<CategoryPixels>& out) {
  thread_local std::vector<std::pair<std::int64_t, std::int32_t>> gt_table, pred_table;
  sorted_categories(gt, gt_table);
  sorted_categories(pred, pred_table);
  out.clear();
  out.reserve(entries.size());
  for (const HistEntry& e : entries) {
    if (e.count == 0) continue;
    out.push_back({category_of(gt_table, e.gt, n_categories), category_of(pred_table, e.pred, n_categories),
                   e.count});
  }
  std::sort(out.begin(), out.end(), [](const CategoryPixels& a, const CategoryPixels& b) {
    return a.gt != b.gt ? a.gt < b.gt : a.pred < b.pred;
  });
  std::size_t w = 0;
  for (std::size_t r = 0; r < out.size(); ++r) {
    if (w > 0 && out[w - 1].gt == out[r].gt && out[w - 1].pred == out[r].pred)
      out[w - 1].count += out[r].count;
    else
      out[w++] = out[r];
  }
  out.resize(w);
}

}  // namespace fastpq
