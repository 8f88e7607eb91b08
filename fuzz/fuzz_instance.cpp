// Cityscapes instance counting from fuzzed PNG bytes (input: u32 length of the GT instanceIds PNG,
// its bytes, then masks as u32 length + bytes). Findings besides sanitizer reports: GT pixel counts
// not summing to the image, ids not ascending, a mask counting more pixels than the image has.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "instance/instance_count.hpp"

namespace {

std::vector<std::uint8_t> take(fastpq_fuzz::ByteReader& in) {
  std::string s = in.bytes(in.u32());
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fastpq_fuzz::ByteReader in(data, size);
  std::vector<std::uint8_t> gt = take(in);
  std::vector<std::vector<std::uint8_t>> masks;
  while (in.left() > 0 && masks.size() < 8) masks.push_back(take(in));
  fastpq::InstanceImageCounts c = fastpq::count_instance_memory(gt, masks, std::uint64_t{1} << 18);
  if (c.error != fastpq::InstanceImageCounts::kNone) {
    if (c.message.empty()) fastpq_fuzz::finding("an error without a message");
    return 0;
  }
  std::int64_t total = 0;
  for (std::size_t i = 0; i < c.ids.size(); ++i) {
    if (i && c.ids[i - 1] >= c.ids[i]) fastpq_fuzz::finding("ids not ascending");
    if (c.gt_pixels[i] <= 0) fastpq_fuzz::finding("an id without pixels");
    total += c.gt_pixels[i];
  }
  if (c.overlap.size() != masks.size() * c.ids.size()) fastpq_fuzz::finding("overlap has the wrong size");
  for (std::size_t m = 0; m < masks.size(); ++m) {
    std::int64_t sum = 0;
    for (std::size_t k = 0; k < c.ids.size(); ++k) sum += c.overlap[m * c.ids.size() + k];
    if (sum > total) fastpq_fuzz::finding("a mask counts more pixels than the image has");
  }
  return 0;
}
