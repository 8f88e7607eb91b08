#include "amodal/amodal_consistency.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "masks/masks.hpp"

namespace fastpq {
namespace {

// Kuhn's augmenting paths: the size of a maximum matching of the bipartite graph `edges`
// (x -> its candidates in y, ascending). Regions per annotation are few (tens), so O(V E) is cheap.
std::int64_t maximum_matching(const std::vector<std::vector<std::uint32_t>>& edges, std::size_t ny) {
  std::vector<std::ptrdiff_t> owner(ny, -1);
  std::vector<char> seen(ny);
  std::int64_t size = 0;
  // Iterative depth-first search, so that no input can exhaust the stack.
  struct Frame { std::uint32_t x; std::size_t next; };
  std::vector<Frame> stack;
  std::vector<std::uint32_t> path_y;
  for (std::uint32_t root = 0; root < edges.size(); ++root) {
    if (edges[root].empty()) continue;
    std::fill(seen.begin(), seen.end(), 0);
    stack.assign(1, {root, 0});
    path_y.clear();
    bool found = false;
    while (!stack.empty() && !found) {
      Frame& top = stack.back();
      if (top.next == edges[top.x].size()) {
        stack.pop_back();
        if (!path_y.empty()) path_y.pop_back();
        continue;
      }
      const std::uint32_t y = edges[top.x][top.next++];
      if (seen[y]) continue;
      seen[y] = 1;
      path_y.push_back(y);
      if (owner[y] < 0) {
        found = true;
      } else {
        stack.push_back({static_cast<std::uint32_t>(owner[y]), 0});
      }
    }
    if (!found) continue;
    // stack[k].x takes path_y[k]: the path alternates x0 -> y0 (owned by x1) -> y1 ...
    for (std::size_t k = 0; k < path_y.size(); ++k) owner[path_y[k]] = stack[k].x;
    ++size;
  }
  return size;
}

void image_consistency(const ConsistencyImageInput& image, double threshold, RegionMatching matching,
                       std::vector<PairScore>& out) {
  const std::size_t n = image.annotations.size();
  std::vector<std::vector<Rle>> masks(n);
  for (std::size_t a = 0; a < n; ++a) {
    masks[a].reserve(image.annotations[a].size());
    for (const MaskSource& m : image.annotations[a]) masks[a].push_back(decode_mask(m, image.height, image.width));
  }
  std::vector<double> ious, transposed;
  for (std::size_t x = 0; x < n; ++x) {
    for (std::size_t y = 0; y < n; ++y) {
      if (x == y) continue;
      const std::size_t nx = masks[x].size(), ny = masks[y].size();
      ious.assign(nx * ny, 0.0);
      if (!ious.empty()) rle_iou(masks[x], masks[y], {}, ious.data());
      PairScore pair;
      pair.x = static_cast<std::uint32_t>(x);
      pair.y = static_cast<std::uint32_t>(y);
      pair.regions_x = static_cast<std::int64_t>(nx);
      pair.regions_y = static_cast<std::int64_t>(ny);
      match_regions(ious.data(), nx, ny, threshold, matching, pair.matched_x, pair.matched_y);
      score_pair(pair);
      out.push_back(pair);
    }
  }
}

}  // namespace

Rle decode_mask(const MaskSource& mask, std::uint32_t h, std::uint32_t w) {
  if (!mask.rle.empty() || mask.polygons.empty()) return rle_from_string(mask.rle, h, w);
  return rle_from_polygons(mask.polygons, h, w);
}

void match_regions(const double* ious, std::size_t nx, std::size_t ny, double threshold, RegionMatching matching,
                   std::int64_t& matched_x, std::int64_t& matched_y) {
  matched_x = matched_y = 0;
  if (matching == RegionMatching::kAny) {
    std::vector<char> hit_y(ny, 0);
    for (std::size_t i = 0; i < nx; ++i) {
      bool hit = false;
      for (std::size_t j = 0; j < ny; ++j)
        if (ious[i * ny + j] >= threshold) hit = hit_y[j] = true;
      matched_x += hit;
    }
    matched_y = std::count(hit_y.begin(), hit_y.end(), 1);
    return;
  }
  if (matching == RegionMatching::kGreedy) {
    std::vector<std::size_t> pairs;
    for (std::size_t k = 0; k < nx * ny; ++k)
      if (ious[k] >= threshold) pairs.push_back(k);
    // Descending IoU; equal IoUs by X's index, then Y's: the flat index order.
    std::stable_sort(pairs.begin(), pairs.end(), [&](std::size_t a, std::size_t b) { return ious[a] > ious[b]; });
    std::vector<char> used_x(nx, 0), used_y(ny, 0);
    for (std::size_t k : pairs) {
      const std::size_t i = k / ny, j = k % ny;
      if (used_x[i] || used_y[j]) continue;
      used_x[i] = used_y[j] = 1;
      ++matched_x;
    }
    matched_y = matched_x;
    return;
  }
  if (matching != RegionMatching::kBipartite) throw UsageError("unknown region matching");
  std::vector<std::vector<std::uint32_t>> edges(nx);
  for (std::size_t i = 0; i < nx; ++i)
    for (std::size_t j = 0; j < ny; ++j)
      if (ious[i * ny + j] >= threshold) edges[i].push_back(static_cast<std::uint32_t>(j));
  matched_x = matched_y = maximum_matching(edges, ny);
}

void score_pair(PairScore& p) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  p.precision = p.regions_x ? static_cast<double>(p.matched_x) / static_cast<double>(p.regions_x) : nan;
  p.recall = p.regions_y ? static_cast<double>(p.matched_y) / static_cast<double>(p.regions_y) : nan;
  if (std::isnan(p.precision) || std::isnan(p.recall)) p.f = nan;
  else if (p.precision + p.recall == 0) p.f = 0;
  else p.f = 2 * p.precision * p.recall / (p.precision + p.recall);
}

ConsistencyResult region_consistency(const std::vector<ConsistencyImageInput>& images, double threshold,
                                     RegionMatching matching, int workers) {
  if (!(threshold > 0 && threshold <= 1)) throw UsageError("the IoU threshold must be in (0, 1]");
  if (matching != RegionMatching::kBipartite && matching != RegionMatching::kGreedy &&
      matching != RegionMatching::kAny)
    throw UsageError("unknown region matching");
  return score_images(images, workers, [&](const ConsistencyImageInput& image, std::vector<PairScore>& pairs) {
    image_consistency(image, threshold, matching, pairs);
  });
}

}  // namespace fastpq
