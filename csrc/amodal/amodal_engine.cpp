#include "amodal/amodal_engine.hpp"

#include <algorithm>
#include <numeric>

#include "common/errors.hpp"
#include "masks/masks.hpp"
#include "common/parallel.hpp"

namespace fastpq {
namespace {

Rle decode(const MaskSource& mask, std::uint32_t h, std::uint32_t w) {
  if (!mask.rle.empty() || mask.polygons.empty()) return rle_from_string(mask.rle, h, w);
  return rle_from_polygons(mask.polygons, h, w);
}

// One image's counts; throws MaskError for a mask that cannot be read.
void evaluate_image(const AmodalImageInput& image, const std::vector<double>& thresholds, AmodalCounts& out) {
  std::vector<Rle> regions;
  regions.reserve(image.regions.size());
  for (const MaskSource& m : image.regions) regions.push_back(decode(m, image.height, image.width));

  // COCOeval's order: descending score, ties in input order, the first maxDets[-1] kept.
  std::vector<std::size_t> order(image.proposals.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return image.scores[a] > image.scores[b]; });
  order.resize(std::min(order.size(), kAmodalDetLimits.back()));
  std::vector<Rle> proposals;
  proposals.reserve(order.size());
  for (std::size_t p : order) proposals.push_back(decode(image.proposals[p], image.height, image.width));

  std::vector<double> ious(proposals.size() * regions.size());
  if (!ious.empty()) rle_iou(proposals, regions, {}, ious.data());
  match_amodal_image(ious.data(), proposals.size(), image.region_info, thresholds.data(), out);
}

}  // namespace

AmodalEvaluation evaluate_amodal(const std::vector<AmodalImageInput>& images, const std::vector<double>& thresholds,
                                 int workers, bool keep_images) {
  if (thresholds.size() != kAmodalThresholds) throw UsageError("the COCOA evaluation takes 10 IoU thresholds");
  for (const AmodalImageInput& image : images)
    if (image.regions.size() != image.region_info.size() || image.proposals.size() != image.scores.size())
      throw UsageError("masks and their attributes differ in number");
  const std::int64_t n = static_cast<std::int64_t>(images.size());
  std::vector<AmodalCounts> per_image(images.size());
  std::vector<std::string> errors(images.size());
  auto run_one = [&](std::int64_t i) {
    try {
      evaluate_image(images[i], thresholds, per_image[i]);
    } catch (const std::exception& e) {  // nothing may leave a parallel region
      errors[i] = e.what();
    }
  };
  parallel_for(n, workers, run_one);
  AmodalEvaluation result;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (!errors[i].empty()) {
      result.failed_image = static_cast<std::ptrdiff_t>(i);
      result.failure = errors[i];
      return result;
    }
    result.counts.add(per_image[i]);
  }
  if (keep_images) result.images = std::move(per_image);
  return result;
}

}  // namespace fastpq
