// Masks of the amodal harnesses from fuzz input: an RLE string or up to two polygons of fuzzed
// coordinates (NaN, infinite and huge included), and the [0, 1] check of their scores.
#pragma once

#include <cmath>

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

// A score in [0, 1], or NaN where it is undefined.
inline bool in_unit(double v) { return std::isnan(v) || (v >= 0.0 && v <= 1.0); }

}  // namespace fastpq_fuzz
