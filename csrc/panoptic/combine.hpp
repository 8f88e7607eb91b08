// The combination heuristic of the panoptic segmentation paper (Kirillov et al., section 7), as
// panopticapi's combine_semantic_and_instance_predictions.py runs it: instance masks with scores
// and a semantic segmentation become one non-overlapping panoptic id map per image. Images are
// combined in parallel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "masks/masks.hpp"
#include "panoptic/panoptic_ids.hpp"

namespace fastpq {

enum class SemanticType { kU8, kU16, kI32 };

// A row-major h x w map of category ids (the semantic segmentation), or none (data == nullptr).
struct SemanticView {
  const void* data = nullptr;
  SemanticType type = SemanticType::kU8;
};

struct CombineInstance {
  Rle mask;                 // or, when `compressed` is not empty, decoded from it (h, w from `mask`)
  std::string compressed;
  double score = 0;
  std::size_t category = 0;  // index into the CategoryTable
};

struct CombineImage {
  std::uint32_t height = 0, width = 0;
  SemanticView semantic;                 // height x width when given
  std::vector<CombineInstance> instances;  // in input order; sorted here
  std::uint32_t* out = nullptr;          // height * width ids, row-major, written here
};

struct CombineOptions {
  double confidence_thr = 0.5;      // instances scoring less are dropped
  double overlap_thr = 0.5;         // instances with more than this fraction already taken are dropped
  double stuff_area_limit = 64 * 64;  // stuff segments with fewer pixels left are dropped
  bool has_void = true;
  std::int64_t void_value = 0;      // semantic value meaning "no category"
  int workers = 0;
};

struct CombinedSegment {
  std::uint32_t id = 0;
  std::size_t category = 0;
  std::uint64_t area = 0;
  std::array<std::uint32_t, 4> bbox{};
};

struct CombineResult {
  std::vector<std::vector<CombinedSegment>> segments;  // per image, in panopticapi's order
  std::ptrdiff_t failed_image = -1;                    // the first image that could not be combined
  std::string failure;
};

// Per image: instances scoring at least confidence_thr, by descending score (ties in input order),
// each taking its pixels not taken yet unless it has no pixels or more than overlap_thr of them
// are taken; then, for each stuff category of the semantic map in ascending category id order,
// its pixels no instance took, unless fewer than stuff_area_limit. Thing categories in the
// semantic map are ignored; a value that is neither a category nor the void value fails the image.
// Segments left without pixels (an instance fully covered when overlap_thr >= 1, stuff when
// stuff_area_limit <= 0) are not listed, where panopticapi lists them though its PNG lacks them.
CombineResult combine_panoptic(std::vector<CombineImage>& images, const CategoryTable& categories,
                               const CombineOptions& options);

}  // namespace fastpq
