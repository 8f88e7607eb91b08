// Annotator edge consistency (csrc/amodal/amodal_edges.hpp): edge_consistency over fuzzed images
// (annotators' region masks as compressed RLE strings or polygons) and a fuzzed tolerance. Findings
// besides sanitizer reports: an exception other than UsageError escaping, a failure without a
// reason, a pair list of the wrong length or order, boundary counts that differ from a brute-force
// seg2bmap of the decoded masks, a matched count that differs from a brute-force maximum matching
// (Kuhn's augmenting paths over every pixel pair, on small maps), scores outside [0, 1].
//
// Input (fuzz_input.hpp): u8 tag, odd: fuzz_double max_dist, even: u8 k, max_dist = k / 255 * 0.1;
// u8 images (% 3); per image u8 height (% 33), u8 width (% 33), u8 annotators (% 4), per annotator
// u8 regions (% 4) each a mask. A mask: u8 tag, even: str16 RLE string, odd: u8 polygons (% 3) of
// u8 values (% 17) fuzz_double each.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "amodal/amodal_edges.hpp"
#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "mask_input.hpp"
#include "masks/masks.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

struct Pixel {
  long y, x;
};

// seg2bmap of each decoded mask, united, as a pixel list (row-major scan).
std::vector<Pixel> brute_boundary(const std::vector<MaskSource>& masks, std::uint32_t h, std::uint32_t w) {
  std::vector<std::uint8_t> edge(static_cast<std::size_t>(h) * w, 0), m(static_cast<std::size_t>(h) * w);
  for (const MaskSource& source : masks) {
    rle_decode(decode_mask(source, h, w), m.data());  // row-major
    for (long y = 0; y < h; ++y)
      for (long x = 0; x < w; ++x) {
        const std::uint8_t v = m[y * w + x];
        bool e = x + 1 < w && m[y * w + x + 1] != v;
        e = e || (y + 1 < h && m[(y + 1) * w + x] != v);
        e = e || (x + 1 < w && y + 1 < h && m[(y + 1) * w + x + 1] != v);
        if (e) edge[y * w + x] = 1;
      }
  }
  std::vector<Pixel> out;
  for (long y = 0; y < h; ++y)
    for (long x = 0; x < w; ++x)
      if (edge[y * w + x]) out.push_back({y, x});
  return out;
}

bool try_augment(std::size_t i, const std::vector<std::vector<std::size_t>>& adj, std::vector<long>& owner,
                 std::vector<char>& seen) {
  for (std::size_t j : adj[i]) {
    if (seen[j]) continue;
    seen[j] = 1;
    if (owner[j] < 0 || try_augment(static_cast<std::size_t>(owner[j]), adj, owner, seen)) {
      owner[j] = static_cast<long>(i);
      return true;
    }
  }
  return false;
}

std::int64_t brute_matching(const std::vector<Pixel>& a, const std::vector<Pixel>& b, double t) {
  std::vector<std::vector<std::size_t>> adj(a.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < b.size(); ++j) {
      const double dy = static_cast<double>(a[i].y - b[j].y), dx = static_cast<double>(a[i].x - b[j].x);
      if (dx * dx + dy * dy <= t * t) adj[i].push_back(j);
    }
  std::vector<long> owner(b.size(), -1);
  std::int64_t size = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::vector<char> seen(b.size(), 0);
    size += try_augment(i, adj, owner, seen);
  }
  return size;
}

void check_image(const ConsistencyImageInput& image, double max_dist, const std::vector<PairScore>& pairs) {
  const std::size_t n = image.annotations.size();
  if (pairs.size() != n * (n > 0 ? n - 1 : 0)) finding("not one score per ordered annotator pair");
  std::vector<std::vector<Pixel>> edges(n);
  for (std::size_t a = 0; a < n; ++a) edges[a] = brute_boundary(image.annotations[a], image.height, image.width);
  const double hh = image.height, ww = image.width;
  const double t = max_dist * std::sqrt(hh * hh + ww * ww);
  std::size_t k = 0;
  for (std::uint32_t x = 0; x < n; ++x)
    for (std::uint32_t y = 0; y < n; ++y) {
      if (x == y) continue;
      const PairScore& p = pairs[k++];
      if (p.x != x || p.y != y) finding("pairs out of order");
      if (p.regions_x != static_cast<std::int64_t>(edges[x].size()) ||
          p.regions_y != static_cast<std::int64_t>(edges[y].size()))
        finding("boundary pixel counts differ from brute-force seg2bmap");
      if (p.matched_x != p.matched_y || p.matched_x < 0 || p.matched_x > p.regions_x || p.matched_x > p.regions_y)
        finding("matched counts out of range");
      if (edges[x].size() * edges[y].size() <= 40000 && p.matched_x != brute_matching(edges[x], edges[y], t))
        finding("matched count differs from a brute-force maximum matching");
      if (!in_unit(p.precision) || !in_unit(p.recall) || !in_unit(p.f)) finding("a score outside [0, 1]");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const double max_dist = in.u8() % 2 ? fuzz_double(in) : in.u8() / 255.0 * kMaxEdgeDistance;
  const std::vector<ConsistencyImageInput> images = fuzz_annotated_images(in);
  try {
    const ConsistencyResult r = edge_consistency(images, max_dist, 1);
    if (r.failed_image >= 0) {
      if (static_cast<std::size_t>(r.failed_image) >= images.size() || r.failure.empty())
        finding("a failure without an image or a reason");
    } else {
      if (r.images.size() != images.size()) finding("not one result per image");
      for (std::size_t i = 0; i < images.size(); ++i) check_image(images[i], max_dist, r.images[i]);
    }
  } catch (const UsageError&) {
  }
  return 0;
}
