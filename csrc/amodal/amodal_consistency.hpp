// Region consistency between the annotators of an image (Zhu et al., "Semantic Amodal
// Segmentation"): for every ordered pair of annotations (X, Y) of an image, X's regions are matched
// to Y's by mask IoU and scored by precision, recall and their F-measure. Images run in parallel;
// each image's masks are decoded once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "amodal/amodal_engine.hpp"
#include "common/parallel.hpp"
#include "masks/masks.hpp"

namespace fastpq {

// How the regions of X and Y are matched among the pairs with IoU >= the threshold.
enum class RegionMatching {
  kBipartite = 0,  // one-to-one, as many pairs as possible (maximum-cardinality matching)
  kGreedy = 1,     // one-to-one, pairs taken by descending IoU (ties: X's index, then Y's)
  kAny = 2,        // not one-to-one: a region is matched when any region of the other side qualifies
};

struct ConsistencyImageInput {
  std::uint32_t height = 0, width = 0;
  std::vector<std::vector<MaskSource>> annotations;  // one list of region masks per annotator
};

// One ordered pair (x, y), x != y, of an image's annotations.
struct PairScore {
  std::uint32_t x = 0, y = 0;
  std::int64_t regions_x = 0, regions_y = 0;
  std::int64_t matched_x = 0, matched_y = 0;  // regions of X (of Y) that are matched
  double precision = 0, recall = 0, f = 0;    // matched_x / regions_x, matched_y / regions_y, 2PR/(P+R)
};

struct ConsistencyResult {
  std::vector<std::vector<PairScore>> images;  // per image, pairs in order (0,1), (0,2), ..., (1,0), ...
  std::ptrdiff_t failed_image = -1;
  std::string failure;
};

// A mask as an Rle: its compressed string, or the union of its polygons when it has no string.
Rle decode_mask(const MaskSource& mask, std::uint32_t h, std::uint32_t w);

// The number of regions of X and of Y that `matching` matches, from the row-major |X| x |Y| IoUs.
void match_regions(const double* ious, std::size_t nx, std::size_t ny, double threshold, RegionMatching matching,
                   std::int64_t& matched_x, std::int64_t& matched_y);

// The scores of one pair from its counts: precision and recall are NaN where their side has no
// region; F is 0 where both are 0 and NaN where either is NaN.
void score_pair(PairScore& pair);

ConsistencyResult region_consistency(const std::vector<ConsistencyImageInput>& images, double threshold,
                                     RegionMatching matching, int workers);

// Scores every image with score(image, pairs) on `workers` threads; the first image in order that
// throws becomes the result's failure (and no image's pairs are kept).
template <typename Score>
ConsistencyResult score_images(const std::vector<ConsistencyImageInput>& images, int workers, Score score) {
  ConsistencyResult result;
  result.images.resize(images.size());
  std::vector<std::string> errors(images.size());
  parallel_for(static_cast<std::int64_t>(images.size()), workers, [&](std::int64_t i) {
    try {
      score(images[static_cast<std::size_t>(i)], result.images[static_cast<std::size_t>(i)]);
    } catch (const std::exception& e) {  // nothing may leave a parallel region
      errors[static_cast<std::size_t>(i)] = e.what();
    }
  });
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (!errors[i].empty()) {
      result.failed_image = static_cast<std::ptrdiff_t>(i);
      result.failure = errors[i];
      result.images.clear();
      break;
    }
  }
  return result;
}

}  // namespace fastpq
