// The COCOA evaluation over a dataset: masks decoded, IoUs computed and proposals matched per
// image in parallel; counts added up.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "amodal/amodal_match.hpp"

namespace fastpq {

// A mask as the JSON gives it: a compressed RLE string, or polygons (when `rle` is empty).
struct MaskSource {
  std::string rle;
  std::vector<std::vector<double>> polygons;
};

struct AmodalImageInput {
  std::uint32_t height = 0, width = 0;
  std::vector<MaskSource> regions;
  std::vector<AmodalRegion> region_info;
  std::vector<MaskSource> proposals;
  std::vector<double> scores;
};

struct AmodalEvaluation {
  AmodalCounts counts;
  std::vector<AmodalCounts> images;  // per image, kept only when asked for
  std::ptrdiff_t failed_image = -1;  // the first image that could not be evaluated
  std::string failure;
};

// Proposals are ranked by descending score, ties in input order, and the first 1000 kept.
AmodalEvaluation evaluate_amodal(const std::vector<AmodalImageInput>& images, const std::vector<double>& thresholds,
                                 int workers, bool keep_images = false);

}  // namespace fastpq
