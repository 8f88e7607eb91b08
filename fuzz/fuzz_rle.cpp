// COCO RLE masks (csrc/masks.*): compressed strings and raw counts, then string round trip, area,
// bounding box, decode / encode, merge (union and intersection) and IoU. Findings besides sanitizer
// reports: a string that does not round-trip, and any result differing from the same quantity
// counted on the decoded pixels.
//
// Input (fuzz_input.hpp): u8 mode; height and width (u32 each if mode & 0x80, else u16 % 1025);
// u8 number of masks (% 6); per mask a u8 kind: odd = raw counts (u8 number % 32, then u16 or, if
// kind & 2, u32 each), even = a compressed string (str16); a u8 of crowd flags.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "masks/masks.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

constexpr std::uint64_t kMaxDecodedPixels = std::uint64_t{1} << 16;

std::vector<std::uint8_t> decoded(const Rle& rle) {
  std::vector<std::uint8_t> mask(std::size_t{rle.h} * rle.w);
  rle_decode(rle, mask.data());
  return mask;
}

// [x, y, width, height] of the foreground pixels of a row-major mask.
std::array<double, 4> pixel_bbox(const std::vector<std::uint8_t>& mask, std::uint32_t h, std::uint32_t w) {
  std::uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0;
  for (std::uint32_t y = 0; y < h; ++y)
    for (std::uint32_t x = 0; x < w; ++x)
      if (mask[std::size_t{y} * w + x]) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  return {double(x0), double(y0), double(x1 - x0 + 1), double(y1 - y0 + 1)};
}

void check_one(const Rle& rle, bool small) {
  const Rle again = rle_from_string(rle_to_string(rle.counts), rle.h, rle.w);
  if (again.counts != rle.counts) finding("rle_to_string does not round-trip through rle_from_string");
  const std::uint64_t area = rle_area(rle);
  const std::array<double, 4> box = rle_to_bbox(rle);
  if (!small) return;
  const std::vector<std::uint8_t> mask = decoded(rle);
  const std::uint64_t ones = static_cast<std::uint64_t>(std::count(mask.begin(), mask.end(), 1));
  if (ones != area) finding("rle_area differs from the decoded mask's pixel count");
  if (ones > 0 && box != pixel_bbox(mask, rle.h, rle.w)) finding("rle_to_bbox differs from the decoded mask's box");
  const Rle encoded = rle_encode(mask.data(), rle.h, rle.w, static_cast<std::ptrdiff_t>(rle.w), 1);
  if (decoded(encoded) != mask) finding("rle_encode(rle_decode(rle)) is a different mask");
}

void check_merge(const std::vector<Rle>& rles, bool intersect, bool small) {
  Rle merged;
  try {
    merged = rle_merge(rles, intersect);
  } catch (const MaskError&) {
    return;  // refused zero-length runs that lose pixels
  }
  check_rle(merged);
  if (!small) return;
  std::vector<std::uint8_t> expected = decoded(rles[0]);
  for (std::size_t i = 1; i < rles.size(); ++i) {
    const std::vector<std::uint8_t> m = decoded(rles[i]);
    for (std::size_t p = 0; p < m.size(); ++p) expected[p] = intersect ? (expected[p] & m[p]) : (expected[p] | m[p]);
  }
  if (decoded(merged) != expected) finding("rle_merge differs from the pixel-wise union / intersection");
}

// No zero-length run after the first count. pycocotools' IoU loop (which rle_iou reproduces bit
// for bit) loses pixels next to zero-length runs, so only such RLEs have the pixel-count IoU.
bool without_empty_runs(const Rle& rle) {
  return std::find(rle.counts.begin() + (rle.counts.empty() ? 0 : 1), rle.counts.end(), 0u) == rle.counts.end();
}

void check_iou(const std::vector<Rle>& rles, const std::vector<bool>& crowd, bool small) {
  std::vector<double> ious(rles.size() * rles.size());
  rle_iou(rles, rles, crowd, ious.data());
  if (!small || !std::all_of(rles.begin(), rles.end(), without_empty_runs)) return;
  std::vector<std::vector<std::uint8_t>> masks;
  for (const Rle& r : rles) masks.push_back(decoded(r));
  for (std::size_t d = 0; d < rles.size(); ++d)
    for (std::size_t g = 0; g < rles.size(); ++g) {
      std::uint64_t inter = 0, uni = 0, dt_area = 0;
      for (std::size_t p = 0; p < masks[d].size(); ++p) {
        inter += masks[d][p] & masks[g][p];
        uni += masks[d][p] | masks[g][p];
        dt_area += masks[d][p];
      }
      const double expected = inter == 0 ? 0.0 : double(inter) / double(crowd[g] ? dt_area : uni);
      if (ious[d * rles.size() + g] != expected) finding("rle_iou differs from pixel counts");
      if (rle_iou(rles[d], rles[g], crowd[g]) != expected) finding("single-pair rle_iou differs from pixel counts");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::uint8_t mode = in.u8();
  std::uint32_t h, w;
  if (mode & 0x80) {
    h = in.u32();
    w = in.u32();
  } else {
    h = in.u16() % 1025;
    w = in.u16() % 1025;
  }
  const bool small = std::uint64_t{h} * w <= kMaxDecodedPixels;
  const int n = in.u8() % 6;
  std::vector<Rle> rles;
  for (int i = 0; i < n; ++i) {
    const std::uint8_t kind = in.u8();
    try {
      if (kind & 1) {
        std::vector<std::uint32_t> counts(in.u8() % 32);
        for (std::uint32_t& c : counts) c = (kind & 2) ? in.u32() : in.u16();
        rles.push_back(rle_from_counts(h, w, std::move(counts)));
      } else {
        rles.push_back(rle_from_string(in.str16(), h, w));
      }
    } catch (const MaskError&) {
    }
  }
  const std::uint8_t crowd_bits = in.u8();
  std::vector<bool> crowd;
  for (std::size_t i = 0; i < rles.size(); ++i) crowd.push_back((crowd_bits >> i) & 1);

  for (const Rle& r : rles) check_one(r, small);
  if (rles.empty()) return 0;
  check_merge(rles, false, small);
  check_merge(rles, true, small);
  check_iou(rles, crowd, small);
  return 0;
}
