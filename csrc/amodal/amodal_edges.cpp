#include "amodal/amodal_edges.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "masks/mask_pixels.hpp"

namespace fastpq {
namespace {

// Marks the boundary pixels of one mask in `out`. `scratch` is h*w zeros on entry and on exit.
// Only the mask's bounding box, widened by one pixel towards the origin, can hold boundary pixels:
// a pixel and its east, south and south-east neighbours all lie outside the mask elsewhere.
void mark_boundary(const Rle& mask, std::uint32_t h, std::uint32_t w, std::vector<std::uint8_t>& scratch,
                   std::vector<std::uint8_t>& out) {
  std::uint64_t pos = 0;
  std::uint64_t x0 = w, x1 = 0, y0 = h, y1 = 0;
  bool on = false, any = false;
  for (std::uint32_t c : mask.counts) {
    if (on && c > 0) {
      const std::uint64_t first = pos, last = pos + c - 1;
      std::fill(scratch.begin() + static_cast<std::ptrdiff_t>(first), scratch.begin() + static_cast<std::ptrdiff_t>(last + 1), 1);
      x0 = std::min(x0, first / h);
      x1 = std::max(x1, last / h);
      if (first / h != last / h) {
        y0 = 0;
        y1 = h - 1;
      } else {
        y0 = std::min(y0, first % h);
        y1 = std::max(y1, last % h);
      }
      any = true;
    }
    pos += c;
    on = !on;
  }
  if (!any) return;
  const std::uint64_t xa = x0 > 0 ? x0 - 1 : 0, ya = y0 > 0 ? y0 - 1 : 0;
  for (std::uint64_t x = xa; x <= x1; ++x) {
    const std::uint8_t* col = scratch.data() + x * h;
    std::uint8_t* dst = out.data() + x * h;
    const std::uint64_t south_end = y1 + 1 < h ? y1 + 1 : y1;  // rows [ya, south_end) have a south neighbour
    if (x + 1 < w) {
      const std::uint8_t* east = col + h;
      for (std::uint64_t y = ya; y < south_end; ++y)
        dst[y] |= static_cast<std::uint8_t>((col[y] ^ east[y]) | (col[y] ^ col[y + 1]) | (col[y] ^ east[y + 1]));
      if (south_end == y1) dst[y1] |= static_cast<std::uint8_t>(col[y1] ^ east[y1]);  // the image's last row
    } else {
      for (std::uint64_t y = ya; y < south_end; ++y) dst[y] |= static_cast<std::uint8_t>(col[y] ^ col[y + 1]);
    }
  }
  for (std::uint64_t x = x0; x <= x1; ++x)
    std::fill(scratch.begin() + static_cast<std::ptrdiff_t>(x * h + y0),
              scratch.begin() + static_cast<std::ptrdiff_t>(x * h + y1 + 1), 0);
}

struct Offset {
  std::int32_t du, dv;  // column and row steps
};

// Every (du, dv) with du^2 + dv^2 <= t^2, nearest first (the order only speeds up the greedy start).
std::vector<Offset> disk(double t) {
  const std::int32_t r = static_cast<std::int32_t>(std::ceil(t));
  std::vector<Offset> out;
  for (std::int32_t v = -r; v <= r; ++v)
    for (std::int32_t u = -r; u <= r; ++u) {
      const double d2 = static_cast<double>(u) * u + static_cast<double>(v) * v;
      if (d2 <= t * t) out.push_back({u, v});
    }
  std::stable_sort(out.begin(), out.end(), [](const Offset& a, const Offset& b) {
    return a.du * a.du + a.dv * a.dv < b.du * b.du + b.dv * b.dv;
  });
  return out;
}

// The boundary pixels of one annotation: their coordinates and, per pixel of the image, the node.
// Set bits of v (the builtin where the target has the instruction, libgcc's table walk is slower).
inline int popcount64(std::uint64_t v) {
#if defined(__POPCNT__)
  return __builtin_popcountll(v);
#else
  v = v - ((v >> 1) & 0x5555555555555555ULL);
  v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((v * 0x0101010101010101ULL) >> 56);
#endif
}

struct Boundary {
  std::vector<std::int32_t> xs, ys;
  std::vector<std::uint64_t> bits;  // column-major bit x * h + y set on the boundary, one spare word
  std::vector<std::int32_t> rank;   // boundary pixels before each word of `bits`

  // The node of the boundary pixel at column-major position pos (its rank among the set bits).
  std::int32_t node(std::uint64_t pos) const {
    const std::uint64_t below = bits[pos >> 6] & ((std::uint64_t{1} << (pos & 63)) - 1);
    return rank[pos >> 6] + popcount64(below);
  }
  bool on(std::uint64_t pos) const { return (bits[pos >> 6] >> (pos & 63)) & 1; }
};

// Bits [first, first + count) of `bits` (count <= 64), bit `first` lowest.
inline std::uint64_t bit_range(const std::vector<std::uint64_t>& bits, std::uint64_t first, std::uint32_t count) {
  const std::uint64_t word = first >> 6;
  const unsigned off = static_cast<unsigned>(first & 63);
  std::uint64_t v = bits[word] >> off;
  if (off != 0) v |= bits[word + 1] << (64 - off);
  return count == 64 ? v : v & ((std::uint64_t{1} << count) - 1);
}

Boundary nodes_of(const std::vector<std::uint8_t>& map, std::uint32_t h) {  // map: column-major, h per column
  Boundary b;
  b.bits.assign(map.size() / 64 + 2, 0);
  const std::size_t pixels = map.size();
  for (std::size_t p = 0; p < pixels;) {
    if (p + 8 <= pixels) {  // eight pixels at a time: most of the map is off the boundary
      std::uint64_t eight;
      std::memcpy(&eight, map.data() + p, 8);
      if (eight == 0) {
        p += 8;
        continue;
      }
    }
    const std::size_t end = std::min(pixels, p + 8);
    for (; p < end; ++p)
      if (map[p]) {
        b.bits[p >> 6] |= std::uint64_t{1} << (p & 63);
        b.xs.push_back(static_cast<std::int32_t>(p / h));
        b.ys.push_back(static_cast<std::int32_t>(p % h));
      }
  }
  b.rank.resize(b.bits.size());
  std::int32_t total = 0;
  for (std::size_t k = 0; k < b.bits.size(); ++k) {
    b.rank[k] = total;
    total += popcount64(b.bits[k]);
  }
  return b;
}

// The size of a maximum matching of the graph adj (CSR: x's candidates are adj[start[x] ..
// start[x+1])): a greedy start (x with the pixel it coincides with, same_pixel[x], -1 for none or
// an empty vector; then every other x with its first free candidate), completed by Kuhn's
// augmenting paths. Depth-first searches are iterative: augmenting paths can be thousands of
// pixels long. O(V E) at worst; on boundary maps the greedy start leaves few paths to find.
std::int64_t maximum_matching(const std::vector<std::int64_t>& start, const std::vector<std::int32_t>& adj,
                              std::size_t nx, std::size_t ny, const std::vector<std::int32_t>& same_pixel) {
  std::vector<std::int32_t> match_x(nx, -1), match_y(ny, -1);
  std::int64_t size = 0;
  for (std::size_t x = 0; x < same_pixel.size(); ++x)  // coinciding pixels first
    if (same_pixel[x] >= 0) {
      match_x[x] = same_pixel[x];
      match_y[same_pixel[x]] = static_cast<std::int32_t>(x);
      ++size;
    }
  for (std::size_t x = 0; x < nx; ++x) {
    if (match_x[x] >= 0) continue;
    for (std::int64_t k = start[x]; k < start[x + 1]; ++k)
      if (match_y[adj[k]] < 0) {
        match_y[adj[k]] = static_cast<std::int32_t>(x);
        match_x[x] = adj[k];
        ++size;
        break;
      }
  }
  // Then Kuhn's augmenting paths from each free pixel, once: a pixel from which no augmenting path
  // starts never gets one later, when other augmentations change the matching. The pixels of Y a
  // failed search saw stay seen until the next augmentation (from them no free pixel is reached).
  std::vector<std::uint32_t> seen(ny, 0);
  std::vector<std::int64_t> next(nx);
  std::uint32_t epoch = 1;
  struct Frame {
    std::int32_t x, y;  // y: the candidate taken at this level (for the augmentation)
  };
  std::vector<Frame> stack;
  for (std::size_t root = 0; root < nx; ++root) {
    if (match_x[root] >= 0 || start[root + 1] == start[root]) continue;
    stack.assign(1, {static_cast<std::int32_t>(root), -1});
    next[root] = start[root];
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (next[top.x] == start[top.x + 1]) {
        stack.pop_back();
        continue;
      }
      const std::int32_t y = adj[next[top.x]++];
      if (seen[y] == epoch) continue;
      seen[y] = epoch;
      const std::int32_t x2 = match_y[y];
      top.y = y;
      if (x2 < 0) {
        for (const Frame& f : stack) {
          match_x[f.x] = f.y;
          match_y[f.y] = f.x;
        }
        ++size;
        ++epoch;
        break;
      }
      next[x2] = start[x2];
      stack.push_back({x2, -1});
    }
  }
  return size;
}

// The size of a maximum matching between the boundary pixels of a and b.
std::int64_t match_nodes(const Boundary& a, const Boundary& b, std::uint32_t h, std::uint32_t w, double t,
                         const std::vector<Offset>& offsets, std::vector<std::int64_t>& start,
                         std::vector<std::int32_t>& adj) {
  const std::size_t nx = a.xs.size(), ny = b.xs.size();
  if (nx == 0 || ny == 0) return 0;
  start.assign(nx + 1, 0);
  adj.clear();
  if (offsets.size() > ny) {  // a wide tolerance: test every pixel of b instead
    for (std::size_t i = 0; i < nx; ++i) {
      for (std::size_t j = 0; j < ny; ++j) {
        const double du = static_cast<double>(b.xs[j] - a.xs[i]), dv = static_cast<double>(b.ys[j] - a.ys[i]);
        if (du * du + dv * dv <= t * t) adj.push_back(static_cast<std::int32_t>(j));
      }
      start[i + 1] = static_cast<std::int64_t>(adj.size());
    }
    return maximum_matching(start, adj, nx, ny, {});
  }
  const std::int64_t r = static_cast<std::int64_t>(std::ceil(t));
  if (2 * r + 1 <= 64) {
    // Per pixel of a and column step du, the rows y - r .. y + r of b's column x + du are one word
    // of b's bit map; the disk keeps the rows with du^2 + dv^2 <= t^2, and each bit left is a
    // candidate. Candidates come column step by column step, rows ascending.
    std::vector<std::uint64_t> disk_rows(static_cast<std::size_t>(2 * r + 1), 0);
    std::vector<std::int32_t> same_pixel(nx);
    for (const Offset& o : offsets) disk_rows[static_cast<std::size_t>(o.du + r)] |= std::uint64_t{1} << (o.dv + r);
    for (std::size_t i = 0; i < nx; ++i) {
      const std::int64_t x = a.xs[i], y = a.ys[i];
      const std::uint64_t here = static_cast<std::uint64_t>(x) * h + static_cast<std::uint64_t>(y);
      same_pixel[i] = b.on(here) ? b.node(here) : -1;
      const std::int64_t lo = std::max<std::int64_t>(y - r, 0), hi = std::min<std::int64_t>(y + r, h - 1);
      for (std::int64_t du = -r; du <= r; ++du) {
        const std::int64_t u = x + du;
        if (u < 0 || u >= w) continue;
        const std::uint64_t first = static_cast<std::uint64_t>(u) * h + static_cast<std::uint64_t>(lo);
        std::uint64_t window = bit_range(b.bits, first, static_cast<std::uint32_t>(hi - lo + 1));
        if (!window) continue;
        // The k-th boundary pixel of the window is node node(first) + k; the disk picks among them.
        const std::uint64_t disk = disk_rows[static_cast<std::size_t>(du + r)] >> (lo - (y - r));
        std::int32_t node = b.node(first);
        for (; window; window &= window - 1, ++node)
          if ((disk >> __builtin_ctzll(window)) & 1) adj.push_back(node);
      }
      start[i + 1] = static_cast<std::int64_t>(adj.size());
    }
    return maximum_matching(start, adj, nx, ny, same_pixel);
  }
  // A tolerance wider than a word: offset by offset over a's pixels (column-major), so that b's
  // node map is read in order: one pass counts each pixel's candidates, a second writes them.
  auto each_candidate = [&](auto visit) {
    for (const Offset& o : offsets) {
      for (std::size_t i = 0; i < nx; ++i) {
        const std::int64_t u = a.xs[i] + o.du, v = a.ys[i] + o.dv;
        if (u < 0 || v < 0 || u >= w || v >= h) continue;
        const std::uint64_t pos = static_cast<std::uint64_t>(u) * h + static_cast<std::uint64_t>(v);
        if (b.on(pos)) visit(i, b.node(pos));
      }
    }
  };
  each_candidate([&](std::size_t i, std::int32_t) { ++start[i + 1]; });
  for (std::size_t i = 0; i < nx; ++i) start[i + 1] += start[i];
  adj.resize(static_cast<std::size_t>(start[nx]));
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
  each_candidate([&](std::size_t i, std::int32_t j) { adj[static_cast<std::size_t>(fill[i]++)] = j; });
  return maximum_matching(start, adj, nx, ny, {});
}

double tolerance(double max_dist, std::uint32_t h, std::uint32_t w) {
  const double hh = h, ww = w;
  return max_dist * std::sqrt(hh * hh + ww * ww);
}

void image_edges(const ConsistencyImageInput& image, double max_dist, std::vector<PairScore>& out) {
  const std::uint32_t h = image.height, w = image.width;
  const std::size_t n = image.annotations.size();
  const std::size_t pixels = static_cast<std::size_t>(checked_pixels(h, w));
  std::vector<Boundary> boundaries(n);
  {
    std::vector<std::uint8_t> scratch(pixels, 0), map;
    for (std::size_t a = 0; a < n; ++a) {
      map.assign(pixels, 0);
      for (const MaskSource& m : image.annotations[a]) mark_boundary(decode_mask(m, h, w), h, w, scratch, map);
      boundaries[a] = nodes_of(map, h);
    }
  }
  const double t = tolerance(max_dist, h, w);
  const std::vector<Offset> offsets = disk(t);
  std::vector<std::int64_t> matched(n * n, 0), start;
  std::vector<std::int32_t> adj;
  for (std::size_t x = 0; x < n; ++x)
    for (std::size_t y = x + 1; y < n; ++y)  // a one-to-one matching is the same both ways
      matched[x * n + y] = matched[y * n + x] =
          match_nodes(boundaries[x], boundaries[y], h, w, t, offsets, start, adj);
  for (std::size_t x = 0; x < n; ++x)
    for (std::size_t y = 0; y < n; ++y) {
      if (x == y) continue;
      PairScore pair;
      pair.x = static_cast<std::uint32_t>(x);
      pair.y = static_cast<std::uint32_t>(y);
      pair.regions_x = static_cast<std::int64_t>(boundaries[x].xs.size());
      pair.regions_y = static_cast<std::int64_t>(boundaries[y].xs.size());
      pair.matched_x = pair.matched_y = matched[x * n + y];
      score_pair(pair);
      out.push_back(pair);
    }
}

void check_max_dist(double max_dist) {
  if (!(max_dist >= 0 && max_dist <= kMaxEdgeDistance))
    throw UsageError("the edge distance tolerance must be in [0, " + std::to_string(kMaxEdgeDistance) +
                     "] (a fraction of the image diagonal)");
}

}  // namespace

std::vector<std::uint8_t> boundary_map(const std::vector<Rle>& masks, std::uint32_t h, std::uint32_t w) {
  const std::size_t pixels = static_cast<std::size_t>(checked_pixels(h, w));
  std::vector<std::uint8_t> scratch(pixels, 0), out(pixels, 0);
  for (const Rle& m : masks) {
    if (m.h != h || m.w != w) throw MaskError("boundary_map: a mask of another size than the image");
    check_rle(m);
    mark_boundary(m, h, w, scratch, out);
  }
  return out;
}

ConsistencyResult edge_consistency(const std::vector<ConsistencyImageInput>& images, double max_dist, int workers) {
  check_max_dist(max_dist);
  return score_images(images, workers, [&](const ConsistencyImageInput& image, std::vector<PairScore>& pairs) {
    image_edges(image, max_dist, pairs);
  });
}

}  // namespace fastpq
