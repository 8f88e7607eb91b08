// COCO RLE masks, bit-identical to pycocotools 2.0.11 (see masks.hpp).
//
// Where pycocotools' results depend on how its C code is compiled (an `(int)` cast of NaN, say),
// this file reproduces what its x86-64 builds do: casts as cvttsd2si, products rounded before they
// are added (no fused multiply-add).
#include "masks/masks.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

namespace fastpq {

namespace {

std::string describe(std::uint64_t h, std::uint64_t w) {
  return std::to_string(h) + "x" + std::to_string(w);
}

std::uint64_t checked_pixels(std::uint64_t h, std::uint64_t w) {
  std::uint64_t pixels = h * w;  // both < 2**32: no overflow
  if (pixels > kMaxMaskPixels)
    throw MaskError("mask of " + describe(h, w) + " pixels: masks of more than 2**31 - 1 pixels are not supported");
  return pixels;
}

std::uint64_t counts_sum(const std::vector<std::uint32_t>& counts) {
  std::uint64_t sum = 0;
  for (std::uint32_t c : counts) sum += c;
  return sum;
}

void check_sum(std::uint64_t sum, std::uint32_t h, std::uint32_t w) {
  std::uint64_t pixels = checked_pixels(h, w);
  if (sum != pixels)
    throw MaskError("RLE counts add up to " + std::to_string(sum) + " pixels, but a " + describe(h, w) +
                    " mask has " + std::to_string(pixels));
}

// ---------------------------------------------------------------------------------------------
// Walking over the runs of an RLE the way pycocotools' merge and iou loops do: `left` pixels remain
// in the current run; when it is used up, the cursor moves on by one run at most per step, so a
// zero-length run is a step of its own.

struct RunCursor {
  const std::uint32_t* counts;
  std::size_t size;
  std::size_t next = 1;
  std::uint32_t left;
  bool on = false;

  explicit RunCursor(const std::vector<std::uint32_t>& c)
      : counts(c.data()), size(c.size()), left(c.empty() ? 0 : c[0]) {}

  void consume(std::uint32_t n) {
    left -= n;
    if (left == 0 && next < size) {
      left = counts[next++];
      on = !on;
    }
  }
};

// One step per run boundary at most: more means the counts are inconsistent (checked before).
std::size_t step_limit(const Rle& a, const Rle& b) { return a.counts.size() + b.counts.size() + 2; }

std::vector<std::uint32_t> merge_two(const Rle& a, const Rle& b, bool intersect) {
  std::vector<std::uint32_t> out;
  out.reserve(a.counts.size() + b.counts.size());
  RunCursor ca(a.counts), cb(b.counts);
  std::uint32_t run = 0;
  bool value = false;
  for (std::size_t step = 0;; ++step) {
    if (step > step_limit(a, b)) throw MaskError("RLE merge: inconsistent counts");
    std::uint32_t n = std::min(ca.left, cb.left);
    run += n;
    ca.consume(n);
    cb.consume(n);
    bool previous = value;
    value = intersect ? (ca.on && cb.on) : (ca.on || cb.on);
    bool done = ca.left == 0 && cb.left == 0;
    if (value != previous || done) {
      out.push_back(run);
      run = 0;
    }
    if (done) break;
  }
  return out;
}

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

// -------------------------------------------------------------------------------------------------

void check_rle(const Rle& rle) { check_sum(counts_sum(rle.counts), rle.h, rle.w); }

Rle rle_from_counts(std::uint32_t h, std::uint32_t w, std::vector<std::uint32_t> counts) {
  Rle rle{h, w, std::move(counts)};
  check_rle(rle);
  return rle;
}

Rle rle_from_string(std::string_view s, std::uint32_t h, std::uint32_t w) {
  std::uint64_t pixels = checked_pixels(h, w);
  Rle rle{h, w, {}};
  std::uint64_t sum = 0;
  std::size_t p = 0;
  while (p < s.size()) {
    std::size_t start = p;
    std::int64_t x = 0;
    for (int k = 0;; ++k) {
      if (p >= s.size())
        throw MaskError("RLE string ends inside a run length (at character " + std::to_string(start) + ")");
      unsigned char ch = static_cast<unsigned char>(s[p]);
      if (ch < 48 || ch > 111)
        throw MaskError("RLE string has a character outside '0'..'o' (byte " + std::to_string(ch) + " at " +
                        std::to_string(p) + ")");
      if (k == 7)
        throw MaskError("RLE string has a run length of more than 7 characters (at character " +
                        std::to_string(start) + ")");
      int c = ch - 48;
      x |= static_cast<std::int64_t>(c & 0x1f) << (5 * k);
      ++p;
      if (!(c & 0x20)) {
        if (c & 0x10) x |= static_cast<std::int64_t>(~std::uint64_t{0} << (5 * (k + 1)));  // negative
        break;
      }
    }
    std::size_t i = rle.counts.size();
    if (i > 2) x += rle.counts[i - 2];
    if (x < 0 || x > 0xffffffffLL)
      throw MaskError("RLE string decodes to run length " + std::to_string(x) + " (count " + std::to_string(i) + ")");
    sum += static_cast<std::uint64_t>(x);
    if (sum > pixels)
      throw MaskError("RLE counts add up to more than the " + std::to_string(pixels) + " pixels of a " +
                      describe(h, w) + " mask");
    rle.counts.push_back(static_cast<std::uint32_t>(x));
  }
  check_sum(sum, h, w);
  return rle;
}

std::string rle_to_string(const std::vector<std::uint32_t>& counts) {
  std::string s;
  s.reserve(counts.size() * 2);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    std::int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    for (;;) {
      int c = static_cast<int>(x & 0x1f);
      x >>= 5;  // arithmetic
      bool more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
      if (!more) break;
    }
  }
  return s;
}

Rle rle_encode(const std::uint8_t* mask, std::uint32_t h, std::uint32_t w, std::ptrdiff_t row_stride,
               std::ptrdiff_t col_stride) {
  checked_pixels(h, w);
  Rle rle{h, w, {}};
  std::uint8_t value = 0;
  std::uint32_t run = 0;
  // A mask without pixels is not addressed at all: its data pointer may be null.
  const std::uint32_t columns = h == 0 ? 0 : w;
  for (std::uint32_t x = 0; x < columns; ++x) {
    const std::uint8_t* column = mask + static_cast<std::ptrdiff_t>(x) * col_stride;
    for (std::uint32_t y = 0; y < h; ++y) {
      std::uint8_t v = column[static_cast<std::ptrdiff_t>(y) * row_stride];
      if (v != value) {
        if (v > 1)
          throw MaskError("mask value " + std::to_string(v) + " at (" + std::to_string(y) + ", " + std::to_string(x) +
                          "): a binary mask holds 0 and 1 only");
        rle.counts.push_back(run);
        run = 0;
        value = v;
      }
      ++run;
    }
  }
  rle.counts.push_back(run);
  return rle;
}

void rle_decode(const Rle& rle, std::uint8_t* out) {
  check_rle(rle);
  const std::uint64_t h = rle.h, w = rle.w;
  std::fill(out, out + h * w, std::uint8_t{0});
  std::uint64_t pos = 0;
  for (std::size_t i = 0; i < rle.counts.size(); ++i) {
    std::uint64_t end = pos + rle.counts[i];
    if (i % 2 == 1)
      for (std::uint64_t p = pos; p < end; ++p) out[(p % h) * w + p / h] = 1;
    pos = end;
  }
}

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

std::uint64_t rle_area(const Rle& rle) {
  check_rle(rle);
  std::uint64_t area = 0;
  for (std::size_t i = 1; i < rle.counts.size(); i += 2) area += rle.counts[i];
  return area;
}

std::array<double, 4> rle_to_bbox(const Rle& rle) {
  check_rle(rle);
  const std::uint32_t h = rle.h, w = rle.w;
  const std::size_t m = rle.counts.size() / 2 * 2;  // a trailing background run does not matter
  if (m == 0) return {0, 0, 0, 0};
  std::uint32_t xs = w, ys = h, xe = 0, ye = 0, pos = 0;
  for (std::size_t j = 0; j < m; ++j) {
    std::uint32_t start = pos;
    pos += rle.counts[j];
    if (j % 2 == 0 || rle.counts[j] == 0) continue;
    std::uint32_t x_start = start / h, y_start = start % h;
    std::uint32_t x_end = (pos - 1) / h, y_end = (pos - 1) % h;
    xs = std::min(xs, x_start);
    xe = std::max(xe, x_end);
    if (x_start < x_end) {  // the run spans columns: all rows
      ys = 0;
      ye = h - 1;
    } else {
      ys = std::min(ys, y_start);
      ye = std::max(ye, y_end);
    }
  }
  // Unsigned 32-bit differences, as pycocotools: they wrap around when there is no foreground.
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(static_cast<std::uint32_t>(xe - xs + 1)),
          static_cast<double>(static_cast<std::uint32_t>(ye - ys + 1))};
}

Rle rle_merge(const std::vector<const Rle*>& rles, bool intersect) {
  if (rles.empty()) throw MaskError("merging no RLEs at all");
  const Rle& first = *rles[0];
  for (const Rle* r : rles) {
    if (r->h != first.h || r->w != first.w)
      throw MaskError("merging RLEs of different sizes (" + describe(first.h, first.w) + " and " + describe(r->h, r->w) +
                      ")");
    check_rle(*r);
  }
  Rle merged = first;
  for (std::size_t i = 1; i < rles.size(); ++i) {
    merged.counts = merge_two(merged, *rles[i], intersect);
    if (counts_sum(merged.counts) != static_cast<std::uint64_t>(merged.h) * merged.w)
      throw MaskError(
          "RLE merge: zero-length runs at the same place in two RLEs make pycocotools' merge lose pixels; "
          "merge RLEs without zero-length runs");
  }
  return merged;
}

Rle rle_merge(const std::vector<Rle>& rles, bool intersect) {
  std::vector<const Rle*> pointers;
  pointers.reserve(rles.size());
  for (const Rle& r : rles) pointers.push_back(&r);
  return rle_merge(pointers, intersect);
}

namespace {

// Overlap of two boxes as pycocotools' bbIou decides it (before it computes the mask IoU).
bool boxes_overlap(const std::array<double, 4>& d, const std::array<double, 4>& g) {
  double w = std::fmin(d[2] + d[0], g[2] + g[0]) - std::fmax(d[0], g[0]);
  if (w <= 0) return false;
  double h = std::fmin(d[3] + d[1], g[3] + g[1]) - std::fmax(d[1], g[1]);
  return h > 0;
}

// The mask IoU of two checked RLEs of one size, with pycocotools' loop (zero-length runs included).
double masks_iou(const Rle& dt, const Rle& gt, bool crowd) {
  RunCursor a(dt.counts), b(gt.counts);
  std::uint64_t intersection = 0, uni = 0;
  for (std::size_t step = 0;; ++step) {
    if (step > step_limit(dt, gt)) throw MaskError("RLE IoU: inconsistent counts");
    std::uint32_t n = std::min(a.left, b.left);
    if (a.on || b.on) {
      uni += n;
      if (a.on && b.on) intersection += n;
    }
    a.consume(n);
    b.consume(n);
    if (a.left == 0 && b.left == 0) break;
  }
  if (intersection == 0)
    uni = 1;
  else if (crowd)
    uni = rle_area(dt);
  return static_cast<double>(intersection) / static_cast<double>(uni);
}

double pair_iou(const Rle& dt, const std::array<double, 4>& dt_box, const Rle& gt, const std::array<double, 4>& gt_box,
                bool crowd) {
  if (!boxes_overlap(dt_box, gt_box)) return 0.0;
  if (dt.h != gt.h || dt.w != gt.w) return -1.0;
  return masks_iou(dt, gt, crowd);
}

}  // namespace

void rle_iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt, const std::vector<bool>& iscrowd, double* out) {
  if (!iscrowd.empty() && iscrowd.size() != gt.size())
    throw MaskError("iscrowd has " + std::to_string(iscrowd.size()) + " entries for " + std::to_string(gt.size()) +
                    " ground-truth masks");
  std::vector<std::array<double, 4>> dt_boxes(dt.size()), gt_boxes(gt.size());
  for (std::size_t d = 0; d < dt.size(); ++d) dt_boxes[d] = rle_to_bbox(dt[d]);  // checks too
  for (std::size_t g = 0; g < gt.size(); ++g) gt_boxes[g] = rle_to_bbox(gt[g]);
  for (std::size_t d = 0; d < dt.size(); ++d)
    for (std::size_t g = 0; g < gt.size(); ++g)
      out[d * gt.size() + g] = pair_iou(dt[d], dt_boxes[d], gt[g], gt_boxes[g], !iscrowd.empty() && iscrowd[g]);
}

double rle_iou(const Rle& dt, const Rle& gt, bool iscrowd) {
  return pair_iou(dt, rle_to_bbox(dt), gt, rle_to_bbox(gt), iscrowd);
}

}  // namespace fastpq
