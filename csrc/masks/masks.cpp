// COCO RLE masks, bit-identical to pycocotools 2.0.11 (see masks.hpp): the checks, compressed strings,
// binary masks, area, bounding box, merge and IoU. Polygons and boxes are in polygon.cpp.
//
// Where pycocotools' results depend on how its C code is compiled (an `(int)` cast of NaN, say),
// this file reproduces what its x86-64 builds do: casts as cvttsd2si, products rounded before they
// are added (no fused multiply-add).
#include "masks/masks.hpp"

#include "masks/mask_pixels.hpp"

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

}  // namespace

// The pixel count h*w, refused above kMaxMaskPixels (masks/mask_pixels.hpp).
std::uint64_t checked_pixels(std::uint64_t h, std::uint64_t w) {
  std::uint64_t pixels = h * w;  // both < 2**32: no overflow
  if (pixels > kMaxMaskPixels)
    throw MaskError("mask of " + describe(h, w) + " pixels: masks of more than 2**31 - 1 pixels are not supported");
  return pixels;
}

namespace {

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