// COCO run-length encoded (RLE) binary masks, bit-identical to pycocotools' mask API
// (pycocotools 2.0.11, common/maskApi.c): compressed strings, polygons, area, bounding box, merge
// and IoU (masks.cpp; polygons and boxes in polygon.cpp). No Python here; csrc/bindings/register_masks.cpp
// translates.
//
// An RLE covers an h x w image in column-major (Fortran) order: counts[0] zeros, counts[1] ones,
// counts[2] zeros, ... Every function that takes an Rle checks it first (check_rle): the counts
// must add up to h*w exactly, the image must not have more than kMaxMaskPixels pixels. pycocotools
// does not check, and reads uninitialised memory, loops forever or crashes on such RLEs; this
// module throws MaskError instead.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fastpq {

// A malformed RLE string, counts that do not add up to h*w, a polygon with NaN or infinite
// coordinates, RLEs of different sizes merged: bad input, with a message saying what is wrong.
class MaskError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Rle {
  std::uint32_t h = 0, w = 0;
  std::vector<std::uint32_t> counts;
};

// Images are limited to 2**31 - 1 pixels: pycocotools computes pixel offsets in `int` and sums of
// run lengths in 32-bit unsigned integers, so its results are only defined below that.
constexpr std::uint64_t kMaxMaskPixels = 0x7fffffffu;
// Polygon coordinates must be finite and within +-kMaxPolygonCoordinate pixels: pycocotools
// scales them by 5 into `int`s and subtracts them, which overflows beyond about 2.1e8.
constexpr double kMaxPolygonCoordinate = 2e8;

// Throws MaskError unless h*w <= kMaxMaskPixels and the counts add up to h*w.
void check_rle(const Rle& rle);
// An Rle from counts, checked.
Rle rle_from_counts(std::uint32_t h, std::uint32_t w, std::vector<std::uint32_t> counts);

// The compressed string (pycocotools' rleFrString / rleToString: 6 bits a character, characters
// '0'..'o', counts from the fourth on stored as the difference to the one two places before).
// Decoding refuses anything its encoder cannot produce in the first place: other characters, a
// string that ends inside a number, a number of more than 7 characters, a negative or too large
// run length, and counts that do not add up to h*w.
Rle rle_from_string(std::string_view s, std::uint32_t h, std::uint32_t w);
std::string rle_to_string(const std::vector<std::uint32_t>& counts);

// A binary mask (pycocotools' encode / decode). `mask` has h rows and w columns, pixel (y, x) at
// mask[y * row_stride + x * col_stride]; every value must be 0 or 1. decode writes h*w bytes,
// row-major.
Rle rle_encode(const std::uint8_t* mask, std::uint32_t h, std::uint32_t w, std::ptrdiff_t row_stride,
               std::ptrdiff_t col_stride);
void rle_decode(const Rle& rle, std::uint8_t* out);

// One polygon, x0, y0, x1, y1, ... (pycocotools' rleFrPoly, frPyObjects on one polygon). An odd
// number of values is refused (pycocotools drops the last one); fewer than three points give what
// pycocotools gives (an empty mask, mostly).
Rle rle_from_polygon(const double* xy, std::size_t n_values, std::uint32_t h, std::uint32_t w);
// The union of an object's polygons, as pycocotools' annToRLE: frPyObjects per polygon, then
// merge. At least one polygon.
Rle rle_from_polygons(const std::vector<std::vector<double>>& polygons, std::uint32_t h, std::uint32_t w);
// A box [x, y, width, height] (pycocotools' rleFrBbox: the polygon of its four corners).
Rle rle_from_bbox(const std::array<double, 4>& bbox, std::uint32_t h, std::uint32_t w);

// Number of foreground pixels (pycocotools' area).
std::uint64_t rle_area(const Rle& rle);
// [x, y, width, height] as pycocotools' toBbox gives it, quirks included: all zeros for an RLE of
// fewer than two counts, and x = w, y = h, width = 2**32 + 1 - w, height = 2**32 + 1 - h for
// other RLEs without foreground.
std::array<double, 4> rle_to_bbox(const Rle& rle);
// Union (or intersection) of RLEs of one size, merged one after another as pycocotools' merge
// does, zero-length runs kept where it keeps them. At least one RLE; different sizes are refused
// (pycocotools returns an empty 0x0 RLE), and so are zero-length runs that make pycocotools' merge
// lose pixels.
Rle rle_merge(const std::vector<Rle>& rles, bool intersect = false);
Rle rle_merge(const std::vector<const Rle*>& rles, bool intersect = false);

// pycocotools' iou(dt, gt, iscrowd) for RLEs. out[d * gt.size() + g] is the IoU of dt[d] and
// gt[g]; for crowd ground truth, the intersection over the area of dt[d]. 0 where the bounding
// boxes do not overlap (no run-length work is done there), -1 where they overlap but the images
// differ in size. iscrowd has gt.size() entries (or none: no crowd).
void rle_iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt, const std::vector<bool>& iscrowd,
             double* out);
// The same for one pair.
double rle_iou(const Rle& dt, const Rle& gt, bool iscrowd);

}  // namespace fastpq
