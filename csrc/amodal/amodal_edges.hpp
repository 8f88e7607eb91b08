// Edge consistency between the annotators of an image (Zhu et al., "Semantic Amodal Segmentation",
// measured with the rules of the BSDS boundary benchmark): for every ordered pair of annotations
// (X, Y), the boundary pixels of X are matched one to one to those of Y within a distance
// tolerance, and scored by precision, recall and their F-measure. Images run in parallel.
//
// The boundary map of an annotation is the union over its regions of each region mask's boundary
// by BSDS's seg2bmap rule: pixel (y, x) is a boundary pixel when the mask differs between it and
// any of its east (y, x+1), south (y+1, x) and south-east (y+1, x+1) neighbours that lie inside
// the image. For masks that partition the image (visible masks), the union equals seg2bmap of the
// label map.
//
// Two boundary pixels may be matched when their squared distance du^2 + dv^2 <= t^2, where
// t = max_dist * sqrt(h^2 + w^2) (BSDS's correspondPixels: maxDist as a fraction of the image
// diagonal, 0.0075 by default). The matching is a maximum-cardinality one-to-one matching of the
// pixels within the tolerance (augmenting paths); its size does not depend on how it is found. BSDS
// instead solves a min-cost assignment (cost: the distance; an unmatched pixel: 100 * t) whose size
// equals this maximum unless a larger matching needs an alternating chain of more than about 100
// pixels each moved by up to t: see python/fastpq/amodal/edge_consistency.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "amodal/amodal_consistency.hpp"
#include "masks/masks.hpp"

namespace fastpq {

// The largest tolerance accepted, as a fraction of the image diagonal (BSDS uses 0.0075 or 0.01).
constexpr double kMaxEdgeDistance = 0.1;

// The boundary map of `masks` (all h x w), column-major (pixel (y, x) at x * h + y), 0 or 1.
std::vector<std::uint8_t> boundary_map(const std::vector<Rle>& masks, std::uint32_t h, std::uint32_t w);

// Every ordered annotator pair of every image; in each PairScore regions_x / regions_y hold the
// boundary pixel counts of X and Y, matched_x = matched_y the size of the matching.
ConsistencyResult edge_consistency(const std::vector<ConsistencyImageInput>& images, double max_dist, int workers);

}  // namespace fastpq
