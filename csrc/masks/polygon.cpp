// COCO RLE masks from polygons and boxes (pycocotools' rleFrPoly, frPyObjects, annToRLE, rleFrBbox),
// bit-identical to pycocotools 2.0.11 (see masks.hpp).
//
// Where pycocotools' results depend on how its C code is compiled (an `(int)` cast of NaN, say),
// this file reproduces what its x86-64 builds do: casts as cvttsd2si, products rounded before they
// are added (no fused multiply-add).
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "masks/mask_pixels.hpp"
#include "masks/masks.hpp"

namespace fastpq {

namespace {

// ---------------------------------------------------------------------------------------------
// Polygons (rleFrPoly). The boundary is upsampled by 5 and walked edge by edge, one point per step
// along the longer axis; wherever two consecutive points lie in different upsampled columns, and the
// boundary between those columns is the centre line of a pixel column, the pixel row where the
// boundary crosses that line toggles the mask. Rather than generating every point (billions for
// large coordinates), only the pairs of points that can toggle a pixel column of the image are
// computed, with the same arithmetic.

constexpr double kScale = 5.0;

// (int)v as x86-64 computes it (cvttsd2si): truncation, INT_MIN for NaN and out-of-range values.
int to_int(double v) {
  if (!(v > -2147483649.0 && v < 2147483648.0)) return INT_MIN;
  return static_cast<int>(v);
}

// a * b rounded to double on its own, so that it is never fused with a following addition. x86-64
// without FMA instructions cannot fuse; elsewhere a volatile keeps the compiler from doing it.
#if defined(__x86_64__) && !defined(__FMA__)
inline double product(double a, double b) { return a * b; }
#else
inline double product(double a, double b) {
  volatile double p = a * b;
  return p;
}
#endif

struct Point {
  int u, v;  // upsampled column, row
};

// One edge, its points at t = 0..n from the lower end (in x when it is flat, in y when steep),
// emitted in the other order when `flip`.
struct Edge {
  bool steep = false, flip = false;
  int x0 = 0, y0 = 0, n = 0;
  double slope = 0;

  Edge(int xs, int ys, int xe, int ye) {
    int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    steep = dx < dy;
    flip = steep ? ys > ye : xs > xe;
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    x0 = xs;
    y0 = ys;
    n = steep ? dy : dx;
    // 0/0 = NaN for an edge of length 0: its one point gets row INT_MIN, as in pycocotools.
    slope = steep ? static_cast<double>(xe - xs) / dy : static_cast<double>(ye - ys) / dx;
  }

  Point at(int t) const {
    double rounded = static_cast<double>(steep ? x0 : y0) + product(slope, static_cast<double>(t)) + .5;
    if (steep) return {to_int(rounded), y0 + t};
    return {x0 + t, to_int(rounded)};
  }
  Point first() const { return at(flip ? n : 0); }
  Point last() const { return at(flip ? 0 : n); }
};

class PolygonRaster {
 public:
  PolygonRaster(std::uint32_t h, std::uint32_t w) : h_(h), w_(w) {}

  // Two consecutive boundary points, in the order pycocotools generates them.
  void pair(Point prev, Point cur) {
    if (prev.u == cur.u) return;
    double xd = static_cast<double>(cur.u < prev.u ? cur.u : cur.u - 1);
    xd = (xd + .5) / kScale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > static_cast<double>(w_) - 1) return;
    double yd = static_cast<double>(cur.v < prev.v ? cur.v : prev.v);
    yd = (yd + .5) / kScale - .5;
    if (yd < 0)
      yd = 0;
    else if (yd > h_)
      yd = h_;
    yd = std::ceil(yd);
    toggles_.push_back(static_cast<std::uint32_t>(static_cast<std::int64_t>(xd) * h_ + static_cast<std::int64_t>(yd)));
  }

  // The pairs inside one edge that can toggle a pixel of the image.
  void edge(const Edge& e) {
    if (e.n == 0) return;
    if (e.steep)
      steep_edge(e);
    else
      flat_edge(e);
  }

  std::vector<std::uint32_t> counts() {
    std::uint32_t pixels = static_cast<std::uint32_t>(h_ * w_);
    toggles_.push_back(pixels);
    std::sort(toggles_.begin(), toggles_.end());
    // Run lengths between toggles; a zero-length run (two toggles at one pixel) joins its
    // neighbours, the first run excepted.
    std::vector<std::uint32_t> out;
    out.reserve(toggles_.size());
    std::uint32_t previous = 0;
    bool join = false;
    for (std::size_t i = 0; i < toggles_.size(); ++i) {
      std::uint32_t run = toggles_[i] - previous;
      previous = toggles_[i];
      if (join) {
        out.back() += run;
        join = false;
      } else if (run > 0 || i == 0) {
        out.push_back(run);
      } else {
        join = true;
      }
    }
    return out;
  }

 private:
  void emit(const Edge& e, Point before, Point after) {  // points t - 1 and t
    if (e.flip)
      pair(after, before);
    else
      pair(before, after);
  }

  // u = x0 + t: the pair (t - 1, t) lies on column boundary x0 + t - 1, which is the centre line of
  // pixel column c where x0 + t - 1 = 5c + 2. Only those pairs are visited.
  void flat_edge(const Edge& e) {
    auto floor_div = [](std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); };
    std::int64_t x0 = e.x0, n = e.n;
    std::int64_t c_first = std::max<std::int64_t>(0, -floor_div(-(x0 - 2), 5));  // ceil((x0 - 2) / 5)
    std::int64_t c_last = std::min<std::int64_t>(static_cast<std::int64_t>(w_) - 1, floor_div(n + x0 - 3, 5));
    for (std::int64_t c = c_first; c <= c_last; ++c) {
      int t = static_cast<int>(5 * c + 3 - x0);
      emit(e, e.at(t - 1), e.at(t));
    }
  }

  // v = y0 + t, u rounded from the slope and monotonic in t: the pairs where u changes are found by
  // galloping (most steps change u on steep diagonal edges, few on near-vertical ones), starting
  // where u first reaches the image.
  void steep_edge(const Edge& e) {
    const std::int64_t n = e.n;
    auto u = [&](std::int64_t t) { return e.at(static_cast<int>(t)).u; };
    const int u_begin = u(0), u_end = u(n);
    if (u_begin == u_end) return;
    const bool increasing = u_end > u_begin;
    // A pair toggles column c only if c's centre line 5c + 2 lies in [min u, max u - 1].
    const std::int64_t lowest = 3, highest = 5 * static_cast<std::int64_t>(w_) - 3;
    std::int64_t lo = 1, hi = n + 1;  // the first t whose pair can reach the image
    while (lo < hi) {
      std::int64_t mid = lo + (hi - lo) / 2;
      if (increasing ? u(mid) >= lowest : u(mid) <= highest)
        hi = mid;
      else
        lo = mid + 1;
    }
    if (lo > n) return;
    int before = u(lo - 1), after = u(lo);
    for (std::int64_t t = lo;;) {
      if (increasing ? before > highest : before < lowest) break;
      if (before != after)
        emit(e, Point{before, static_cast<int>(e.y0 + t - 1)}, Point{after, static_cast<int>(e.y0 + t)});
      // the first t' > t where u differs from u(t) == after: galloping, then bisection
      std::int64_t same = t, differs = -1, step = 1;
      int found = after;
      while (differs < 0) {
        std::int64_t probe = std::min(t + step, n);
        int up = u(probe);
        if (up != after) {
          differs = probe;
          found = up;
        } else if (probe == n) {
          break;
        } else {
          same = probe;
          step *= 2;
        }
      }
      if (differs < 0) break;  // u keeps its value to the end of the edge
      while (differs - same > 1) {
        std::int64_t mid = same + (differs - same) / 2;
        int um = u(mid);
        if (um == after) {
          same = mid;
        } else {
          differs = mid;
          found = um;
        }
      }
      t = differs;
      before = after;
      after = found;
    }
  }

  std::uint32_t h_, w_;
  std::vector<std::uint32_t> toggles_;
};

int scaled_coordinate(double v) {
  if (!std::isfinite(v)) throw MaskError("polygon coordinate " + std::to_string(v) + " is not finite");
  if (std::fabs(v) > kMaxPolygonCoordinate)
    throw MaskError("polygon coordinate " + std::to_string(v) + " is out of range (at most 2e8 in absolute value)");
  return to_int(product(kScale, v) + .5);
}

}  // namespace

Rle rle_from_polygon(const double* xy, std::size_t n_values, std::uint32_t h, std::uint32_t w) {
  if (n_values % 2 != 0)
    throw MaskError("polygon with an odd number of coordinates (" + std::to_string(n_values) + ")");
  std::uint64_t pixels = checked_pixels(h, w);
  std::size_t k = n_values / 2;
  std::vector<int> x(k + 1), y(k + 1);
  for (std::size_t j = 0; j < k; ++j) {
    x[j] = scaled_coordinate(xy[2 * j]);
    y[j] = scaled_coordinate(xy[2 * j + 1]);
  }
  if (k == 0) return Rle{h, w, {static_cast<std::uint32_t>(pixels)}};
  x[k] = x[0];
  y[k] = y[0];
  PolygonRaster raster(h, w);
  Point previous_end{0, 0};
  for (std::size_t j = 0; j < k; ++j) {
    Edge e(x[j], y[j], x[j + 1], y[j + 1]);
    if (j > 0) raster.pair(previous_end, e.first());
    raster.edge(e);
    previous_end = e.last();
  }
  return Rle{h, w, raster.counts()};
}

Rle rle_from_polygons(const std::vector<std::vector<double>>& polygons, std::uint32_t h, std::uint32_t w) {
  if (polygons.empty()) throw MaskError("an object given as polygons needs at least one polygon");
  std::vector<Rle> parts;
  parts.reserve(polygons.size());
  for (const auto& p : polygons) parts.push_back(rle_from_polygon(p.data(), p.size(), h, w));
  return rle_merge(parts, false);
}

Rle rle_from_bbox(const std::array<double, 4>& bbox, std::uint32_t h, std::uint32_t w) {
  double xs = bbox[0], xe = xs + bbox[2];
  double ys = bbox[1], ye = ys + bbox[3];
  const double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
  return rle_from_polygon(xy, 8, h, w);
}

}  // namespace fastpq
