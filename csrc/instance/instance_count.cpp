#include "instance/instance_count.hpp"

#include <algorithm>
#include <functional>
#include <memory>

#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "png/mask_png.hpp"
#include "png/png_chunks.hpp"

namespace fastpq {
namespace {

// The GT instanceIds image as runs of equal values per row: run k of row y covers
// [start[k], start[k + 1]) (the row's last run ends at the width), holding compact id index[k].
struct GtRuns {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint32_t> start, index;
  std::vector<std::size_t> row;  // runs of row y: [row[y], row[y + 1])

  // Adds the pixels of [x0, x1) in row y to counts[index].
  void count(std::uint32_t y, std::uint32_t x0, std::uint32_t x1, std::int64_t* counts) const {
    const std::uint32_t* first = start.data() + row[y];
    const std::uint32_t* last = start.data() + row[y + 1];
    std::size_t k = static_cast<std::size_t>(std::upper_bound(first, last, x0) - first) - 1 + row[y];
    for (std::uint32_t x = x0; x < x1; ++k) {
      const std::uint32_t end = k + 1 < row[y + 1] ? start[k + 1] : width;
      const std::uint32_t to = std::min(end, x1);
      counts[index[k]] += to - x;
      x = to;
    }
  }
};

// Reads the GT PNG bytes (8- or 16-bit grey) into runs, with its distinct values and pixel counts.
void read_gt(MaskPngReader& reader, const std::uint8_t* data, std::size_t size, const std::string& name,
             std::uint64_t max_pixels, GtRuns& gt, InstanceImageCounts& out) {
  reader.open_memory(data, size, name, max_pixels, MaskPngReader::Output::kValues);
  gt.width = reader.width();
  gt.height = reader.height();
  gt.start = reader.value_start();
  gt.index = reader.value_of();
  gt.row = reader.value_row();
  thread_local std::vector<std::int64_t> hist(65536, 0);
  const std::size_t n = gt.start.size();
  for (std::size_t y = 0; y < gt.height; ++y)
    for (std::size_t k = gt.row[y], e = gt.row[y + 1]; k < e; ++k)
      hist[gt.index[k]] += (k + 1 < e ? gt.start[k + 1] : gt.width) - gt.start[k];
  std::vector<std::uint32_t> values(gt.index);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  thread_local std::vector<std::uint32_t> lut(65536, 0);
  for (std::uint32_t v : values) {
    lut[v] = static_cast<std::uint32_t>(out.ids.size());
    out.ids.push_back(v);
    out.gt_pixels.push_back(hist[v]);
    hist[v] = 0;
  }
  for (std::size_t k = 0; k < n; ++k) gt.index[k] = lut[gt.index[k]];
}

// Opens input 0 (the GT) or mask i + 1 as bytes: (data, size).
using Source = std::function<std::pair<const std::uint8_t*, std::size_t>(std::size_t)>;
using MaskOpener = std::function<void(MaskPngReader&, std::size_t)>;

InstanceImageCounts count_with(const Source& gt_bytes, const MaskOpener& open_mask, std::size_t n_masks,
                               const std::string& gt_name, const std::vector<std::string>& mask_names,
                               std::uint64_t max_pixels) {
  thread_local MaskPngReader gt_reader, mask_reader;
  thread_local GtRuns gt;
  struct Trim {  // after every image, however it ends
    ~Trim() {
      gt_reader.trim();
      mask_reader.trim();
    }
  } trim;
  InstanceImageCounts out;
  try {
    const auto bytes = gt_bytes(0);
    read_gt(gt_reader, bytes.first, bytes.second, gt_name, max_pixels, gt, out);
    const std::uint32_t w = gt.width, h = gt.height;
    const std::size_t k = out.ids.size();
    out.overlap.assign(n_masks * k, 0);
    for (std::size_t m = 0; m < n_masks; ++m) {
      open_mask(mask_reader, m);
      if (mask_reader.width() != w || mask_reader.height() != h) {
        out.error = InstanceImageCounts::kSize;
        out.message = "mask '" + mask_names[m] + "' is " + std::to_string(mask_reader.width()) + "x" +
                      std::to_string(mask_reader.height()) + ", the ground truth '" + gt_name + "' is " +
                      std::to_string(w) + "x" + std::to_string(h);
        return out;
      }
      std::int64_t* counts = out.overlap.data() + m * k;
      for (const PixelRun& r : mask_reader.runs()) gt.count(r.y, r.x0, r.x1, counts);
    }
  } catch (const FileNotFound& e) {
    out.error = InstanceImageCounts::kNotFound;
    out.message = e.what();
  } catch (const FormatError& e) {
    out.error = InstanceImageCounts::kFormat;
    out.message = e.what();
  } catch (const std::bad_alloc&) {
    out.error = InstanceImageCounts::kFormat;
    out.message = "out of memory reading '" + gt_name + "' or its masks";
  }
  return out;
}

}  // namespace

InstanceImageCounts count_instance_image(const std::string& gt_path, const std::vector<std::string>& masks,
                                         std::uint64_t max_pixels) {
  thread_local ByteBuffer file;
  Source gt = [&](std::size_t) {
    const std::size_t size = read_png_file(gt_path, file);
    return std::make_pair(static_cast<const std::uint8_t*>(file.data()), size);
  };
  MaskOpener open = [&](MaskPngReader& r, std::size_t i) { r.open_file(masks[i], max_pixels); };
  return count_with(gt, open, masks.size(), gt_path, masks, max_pixels);
}

InstanceImageCounts count_instance_memory(const std::vector<std::uint8_t>& gt_png,
                                          const std::vector<std::vector<std::uint8_t>>& mask_pngs,
                                          std::uint64_t max_pixels) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < mask_pngs.size(); ++i) names.push_back("<mask " + std::to_string(i) + ">");
  Source gt = [&](std::size_t) { return std::make_pair(gt_png.data(), gt_png.size()); };
  MaskOpener open = [&](MaskPngReader& r, std::size_t i) {
    r.open_memory(mask_pngs[i].data(), mask_pngs[i].size(), names[i], max_pixels);
  };
  return count_with(gt, open, mask_pngs.size(), "<gt>", names, max_pixels);
}

std::vector<InstanceImageCounts> count_instance_buffers(const std::vector<InstanceImageBytes>& images, int workers,
                                                        std::uint64_t max_pixels) {
  for (const InstanceImageBytes& im : images)
    if (im.mask_data.size() != im.mask_sizes.size() || im.mask_data.size() != im.mask_names.size())
      throw UsageError("mask bytes, sizes and names differ in length");
  std::vector<InstanceImageCounts> out(images.size());
  parallel_for(static_cast<std::int64_t>(images.size()), workers, [&](std::int64_t i) {
    const InstanceImageBytes& im = images[i];
    Source gt = [&](std::size_t) { return std::make_pair(im.gt_data, im.gt_size); };
    MaskOpener open = [&](MaskPngReader& r, std::size_t k) {
      r.open_memory(im.mask_data[k], im.mask_sizes[k], im.mask_names[k], max_pixels);
    };
    out[i] = count_with(gt, open, im.mask_data.size(), im.gt_name, im.mask_names, max_pixels);
  });
  return out;
}

std::vector<InstanceImageCounts> count_instance_images(const std::vector<std::string>& gt_paths,
                                                       const std::vector<std::vector<std::string>>& masks,
                                                       int workers, std::uint64_t max_pixels) {
  if (gt_paths.size() != masks.size()) throw UsageError("gt_paths and masks differ in length");
  std::vector<InstanceImageCounts> out(gt_paths.size());
  parallel_for(static_cast<std::int64_t>(gt_paths.size()), workers,
               [&](std::int64_t i) { out[i] = count_instance_image(gt_paths[i], masks[i], max_pixels); });
  return out;
}

}  // namespace fastpq
