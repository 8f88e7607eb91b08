#include "amodal/amodal_edges.hpp"

#include <algorithm>
#include <cmath>
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
    const std::uint8_t* east = x + 1 < w ? col + h : nullptr;
    std::uint8_t* dst = out.data() + x * h;
    for (std::uint64_t y = ya; y <= y1; ++y) {
      const std::uint8_t v = col[y];
      bool edge = east && east[y] != v;
      if (y + 1 < h) edge = edge || col[y + 1] != v || (east && east[y + 1] != v);
      if (edge) dst[y] = 1;
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
struct Boundary {
  std::vector<std::int32_t> xs, ys;
  std::vector<std::int32_t> node;  // column-major, -1 off the boundary
};

Boundary nodes_of(const std::vector<std::uint8_t>& map, std::uint32_t h, std::uint32_t w) {
  Boundary b;
  b.node.assign(map.size(), -1);
  for (std::uint64_t x = 0; x < w; ++x)
    for (std::uint64_t y = 0; y < h; ++y)
      if (map[x * h + y]) {
        b.node[x * h + y] = static_cast<std::int32_t>(b.xs.size());
        b.xs.push_back(static_cast<std::int32_t>(x));
        b.ys.push_back(static_cast<std::int32_t>(y));
      }
  return b;
}

// Hopcroft-Karp on the graph adj (CSR: x's candidates are adj[start[x] .. start[x+1])), after a
// greedy start. Depth-first searches are iterative: augmenting paths can be thousands of pixels long.
std::int64_t maximum_matching(const std::vector<std::int64_t>& start, const std::vector<std::int32_t>& adj,
                              std::size_t nx, std::size_t ny) {
  std::vector<std::int32_t> match_x(nx, -1), match_y(ny, -1);
  std::int64_t size = 0;
  for (std::size_t x = 0; x < nx; ++x)
    for (std::int64_t k = start[x]; k < start[x + 1]; ++k)
      if (match_y[adj[k]] < 0) {
        match_y[adj[k]] = static_cast<std::int32_t>(x);
        match_x[x] = adj[k];
        ++size;
        break;
      }
  constexpr std::int32_t kInf = std::numeric_limits<std::int32_t>::max();
  std::vector<std::int32_t> dist(nx), queue;
  std::vector<std::int64_t> next(nx);
  struct Frame {
    std::int32_t x, y;  // y: the candidate taken at this level (for the augmentation)
  };
  std::vector<Frame> stack;
  for (;;) {
    queue.clear();
    for (std::size_t x = 0; x < nx; ++x) {
      dist[x] = match_x[x] < 0 ? 0 : kInf;
      if (match_x[x] < 0) queue.push_back(static_cast<std::int32_t>(x));
    }
    bool found = false;
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const std::int32_t x = queue[q];
      for (std::int64_t k = start[x]; k < start[x + 1]; ++k) {
        const std::int32_t x2 = match_y[adj[k]];
        if (x2 < 0) {
          found = true;
        } else if (dist[x2] == kInf) {
          dist[x2] = dist[x] + 1;
          queue.push_back(x2);
        }
      }
    }
    if (!found) return size;
    for (std::size_t x = 0; x < nx; ++x) next[x] = start[x];
    for (std::size_t root = 0; root < nx; ++root) {
      if (match_x[root] >= 0 || dist[root] != 0) continue;
      stack.assign(1, {static_cast<std::int32_t>(root), -1});
      while (!stack.empty()) {
        Frame& top = stack.back();
        if (next[top.x] == start[top.x + 1]) {
          dist[top.x] = kInf;  // a dead end for the rest of this phase
          stack.pop_back();
          continue;
        }
        const std::int32_t y = adj[next[top.x]++];
        const std::int32_t x2 = match_y[y];
        if (x2 < 0) {
          top.y = y;
          for (const Frame& f : stack) {
            match_x[f.x] = f.y;
            match_y[f.y] = f.x;
          }
          ++size;
          break;
        }
        if (dist[x2] == dist[top.x] + 1) {
          top.y = y;
          stack.push_back({x2, -1});
        }
      }
    }
  }
}

// The size of a maximum matching between the boundary pixels of a and b.
std::int64_t match_nodes(const Boundary& a, const Boundary& b, std::uint32_t h, std::uint32_t w, double t,
                         const std::vector<Offset>& offsets, std::vector<std::int64_t>& start,
                         std::vector<std::int32_t>& adj) {
  const std::size_t nx = a.xs.size(), ny = b.xs.size();
  if (nx == 0 || ny == 0) return 0;
  start.assign(nx + 1, 0);
  adj.clear();
  const bool scan_all = offsets.size() > ny;  // a wide tolerance: test every pixel of b instead
  for (std::size_t i = 0; i < nx; ++i) {
    const std::int64_t x = a.xs[i], y = a.ys[i];
    if (scan_all) {
      for (std::size_t j = 0; j < ny; ++j) {
        const double du = static_cast<double>(b.xs[j] - x), dv = static_cast<double>(b.ys[j] - y);
        if (du * du + dv * dv <= t * t) adj.push_back(static_cast<std::int32_t>(j));
      }
    } else {
      for (const Offset& o : offsets) {
        const std::int64_t u = x + o.du, v = y + o.dv;
        if (u < 0 || v < 0 || u >= w || v >= h) continue;
        const std::int32_t j = b.node[static_cast<std::size_t>(u) * h + static_cast<std::size_t>(v)];
        if (j >= 0) adj.push_back(j);
      }
    }
    start[i + 1] = static_cast<std::int64_t>(adj.size());
  }
  return maximum_matching(start, adj, nx, ny);
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
      boundaries[a] = nodes_of(map, h, w);
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
  ConsistencyResult result;
  result.images.resize(images.size());
  std::vector<std::string> errors(images.size());
  parallel_for(static_cast<std::int64_t>(images.size()), workers, [&](std::int64_t i) {
    try {
      image_edges(images[i], max_dist, result.images[i]);
    } catch (const std::exception& e) {  // nothing may leave a parallel region
      errors[i] = e.what();
    }
  });
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (!errors[i].empty()) {
      result.failed_image = static_cast<std::ptrdiff_t>(i);
      result.failure = errors[i];
      result.images.clear();
      return result;
    }
  }
  return result;
}

}  // namespace fastpq
