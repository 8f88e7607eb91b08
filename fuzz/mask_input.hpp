// Masks of the amodal harnesses from fuzz input: an RLE string or up to two polygons of fuzzed
// coordinates (NaN, infinite and huge included), annotated images made of them, and the [0, 1]
// check of their scores.
#pragma once

#include <cmath>
#include <vector>

#include "amodal/amodal_consistency.hpp"
#include "fuzz_input.hpp"
#include "masks/masks.hpp"

namespace fastpq_fuzz {

inline fastpq::MaskSource fuzz_mask(ByteReader& in) {
  fastpq::MaskSource m;
  if (in.u8() % 2 == 0) {
    m.rle = in.str16();
  } else {
    m.polygons.resize(in.u8() % 3);
    for (auto& p : m.polygons) {
      p.resize(in.u8() % 17);
      for (double& v : p) v = fuzz_double(in);
    }
  }
  return m;
}

// Up to two images of up to 32x32 pixels, each with up to three annotators of up to three masks.
inline std::vector<fastpq::ConsistencyImageInput> fuzz_annotated_images(ByteReader& in) {
  std::vector<fastpq::ConsistencyImageInput> images(in.u8() % 3);
  for (fastpq::ConsistencyImageInput& image : images) {
    image.height = in.u8() % 33;
    image.width = in.u8() % 33;
    image.annotations.resize(in.u8() % 4);
    for (auto& regions : image.annotations) {
      regions.resize(in.u8() % 4);
      for (fastpq::MaskSource& m : regions) m = fuzz_mask(in);
    }
  }
  return images;
}

// A score in [0, 1], or NaN where it is undefined.
inline bool in_unit(double v) { return std::isnan(v) || (v >= 0.0 && v <= 1.0); }

}  // namespace fastpq_fuzz
