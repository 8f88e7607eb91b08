// Polygon and box rasterisation (rle_from_polygons, rle_from_bbox) with fuzzed coordinates: NaN,
// infinities, huge and tiny values as well as ordinary ones. Findings besides sanitizer reports: a
// result whose counts do not add up to h*w, a refusal other than MaskError, and, for polygons of
// small coordinates, a result differing from a dense rasteriser (dense_polygon below) that walks
// every upsampled boundary point instead of jumping to the ones that matter.
//
// Input (fuzz_input.hpp): u8 mode; height and width (u16 % 513 each; with mode & 0x80, u32 each,
// which the harness uses only when h*w exceeds the mask limit, to check the refusal); u8 number of
// polygons (% 5); per polygon u8 number of values (% 33) and fuzz_double values; 4 fuzz_double for
// a box.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz_input.hpp"
#include "masks/masks.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

constexpr double kDenseLimit = 2000;  // |coordinate| up to which the dense rasteriser is affordable

// The COCO polygon rule, point by point: vertices scaled by 5 and rounded; each edge walked one
// step at a time along its longer axis from the end with the smaller coordinate on that axis,
// the other coordinate rounded from the slope, the points listed from the edge's start; then every
// pair of consecutive points in different upsampled columns, whose column boundary is a pixel
// column's centre line, toggles the first pixel at or below the boundary's crossing, clamped to
// [0, h]; toggles sorted into run lengths, a zero-length run (after the first) joining the next.
std::vector<std::uint32_t> dense_polygon(const std::vector<double>& xy, std::uint32_t h, std::uint32_t w) {
  const std::size_t k = xy.size() / 2;
  std::vector<int> x(k + 1), y(k + 1);
  for (std::size_t j = 0; j < k; ++j) {
    x[j] = static_cast<int>(5 * xy[2 * j] + .5);
    y[j] = static_cast<int>(5 * xy[2 * j + 1] + .5);
  }
  if (k == 0) return {h * w};
  x[k] = x[0];
  y[k] = y[0];
  std::vector<std::pair<int, int>> points;  // (u, v)
  for (std::size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool along_x = dx >= dy;
    const bool flip = along_x ? xs > xe : ys > ye;
    if (flip) std::swap(xs, xe), std::swap(ys, ye);
    const int n = along_x ? dx : dy;
    const double slope = along_x ? double(ye - ys) / dx : double(xe - xs) / dy;
    for (int d = 0; d <= n; ++d) {
      const int t = flip ? n - d : d;
      const double rounded = (along_x ? ys : xs) + slope * t + .5;
      const int r = std::isnan(rounded) ? INT32_MIN : static_cast<int>(rounded);
      points.push_back(along_x ? std::make_pair(xs + t, r) : std::make_pair(r, ys + t));
    }
  }
  std::vector<std::uint32_t> toggles;
  for (std::size_t j = 1; j < points.size(); ++j) {
    const auto [u, v] = points[j];
    const auto [pu, pv] = points[j - 1];
    if (u == pu) continue;
    double xd = (u < pu ? u : u - 1);
    xd = (xd + .5) / 5 - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > double(w) - 1) continue;
    double yd = (v < pv ? v : pv);
    yd = std::ceil(std::clamp((yd + .5) / 5 - .5, 0.0, double(h)));
    toggles.push_back(static_cast<std::uint32_t>(xd) * h + static_cast<std::uint32_t>(yd));
  }
  toggles.push_back(h * w);
  std::sort(toggles.begin(), toggles.end());
  std::vector<std::uint32_t> runs;
  std::uint32_t previous = 0;
  for (std::size_t j = 0; j < toggles.size(); ++j) {
    runs.push_back(toggles[j] - previous);
    previous = toggles[j];
  }
  std::vector<std::uint32_t> out{runs[0]};
  for (std::size_t j = 1; j < runs.size();) {
    if (runs[j] > 0) {
      out.push_back(runs[j++]);
    } else if (++j < runs.size()) {
      out.back() += runs[j++];
    }
  }
  return out;
}

bool dense_affordable(const std::vector<double>& xy) {
  for (double v : xy)
    if (!(std::fabs(v) <= kDenseLimit)) return false;
  return xy.size() % 2 == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::uint8_t mode = in.u8();
  std::uint32_t h = in.u16() % 513, w = in.u16() % 513;
  if (mode & 0x80) {
    const std::uint32_t big_h = in.u32(), big_w = in.u32();
    if (std::uint64_t{big_h} * big_w > kMaxMaskPixels) h = big_h, w = big_w;
  }
  std::vector<std::vector<double>> polygons(in.u8() % 5);
  for (auto& p : polygons) {
    p.resize(in.u8() % 33);
    for (double& v : p) v = fuzz_double(in);
  }
  std::array<double, 4> box;
  for (double& v : box) v = fuzz_double(in);

  try {
    const Rle r = rle_from_polygons(polygons, h, w);
    check_rle(r);
  } catch (const MaskError&) {
  }
  for (const auto& p : polygons) {
    try {
      const Rle r = rle_from_polygon(p.data(), p.size(), h, w);
      check_rle(r);
      if (dense_affordable(p) && r.counts != dense_polygon(p, h, w))
        finding("rle_from_polygon differs from the dense rasteriser");
    } catch (const MaskError&) {
    }
  }
  try {
    check_rle(rle_from_bbox(box, h, w));
  } catch (const MaskError&) {
  }
  return 0;
}
