// Cityscapes instance evaluation counts: per image the distinct instanceIds values with their pixel
// counts and, for each predicted mask PNG, its pixels on each of those values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fastpq {

struct InstanceImageCounts {
  enum Error { kNone = 0, kFormat = 1, kNotFound = 2, kSize = 3 };
  std::vector<std::uint32_t> ids;        // ascending
  std::vector<std::int64_t> gt_pixels;   // per id
  std::vector<std::int64_t> overlap;     // masks x ids, row-major
  int error = kNone;
  std::string message;                   // names the file
};

// Counts one image from its GT file and mask files.
InstanceImageCounts count_instance_image(const std::string& gt_path, const std::vector<std::string>& masks,
                                         std::uint64_t max_pixels);
// The same from PNG bytes in memory (used by the fuzz harness).
InstanceImageCounts count_instance_memory(const std::vector<std::uint8_t>& gt_png,
                                          const std::vector<std::vector<std::uint8_t>>& mask_pngs,
                                          std::uint64_t max_pixels);
// One image's PNGs as bytes held by the caller, each with the name its messages use (a URL).
struct InstanceImageBytes {
  const std::uint8_t* gt_data = nullptr;
  std::size_t gt_size = 0;
  std::string gt_name;
  std::vector<const std::uint8_t*> mask_data;
  std::vector<std::size_t> mask_sizes;
  std::vector<std::string> mask_names;
};
// The same as count_instance_images for PNG bytes in memory, in parallel over images.
std::vector<InstanceImageCounts> count_instance_buffers(const std::vector<InstanceImageBytes>& images, int workers,
                                                        std::uint64_t max_pixels);
// All images, in parallel over images (no Python involved).
std::vector<InstanceImageCounts> count_instance_images(const std::vector<std::string>& gt_paths,
                                                       const std::vector<std::vector<std::string>>& masks,
                                                       int workers, std::uint64_t max_pixels);

}  // namespace fastpq
