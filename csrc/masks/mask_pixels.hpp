// Shared by the mask sources (masks.cpp, polygon.cpp), not part of the masks API.
#pragma once

#include <cstdint>

namespace fastpq {

// h * w, or MaskError when an image of that size has more than kMaxMaskPixels pixels.
std::uint64_t checked_pixels(std::uint64_t h, std::uint64_t w);

}  // namespace fastpq
