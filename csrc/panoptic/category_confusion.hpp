// The semantic confusion of a panoptic image pair: pixels per (ground-truth category, predicted
// category), read off the joint segment histogram the matching uses, so no second pass.
#pragma once

#include <cstdint>
#include <vector>

#include "panoptic/joint_histogram.hpp"
#include "panoptic/pq_match.hpp"

namespace fastpq {

struct CategoryPixels {
  std::int32_t gt;    // category index, or n_categories for void (id 0 or an id the JSON lacks)
  std::int32_t pred;  // likewise
  std::uint64_t count;
};

// Adds up `entries` by the categories of their segments; `out` is sorted by (gt, pred), zero
// counts left out. Crowd regions count as their category.
void category_confusion(const std::vector<HistEntry>& entries, const GtSegments& gt, const PredSegments& pred,
                        std::int32_t n_categories, std::vector<CategoryPixels>& out);

}  // namespace fastpq
