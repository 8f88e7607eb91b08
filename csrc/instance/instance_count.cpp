#include "instance/instance_count.hpp"

#include <functional>
#include <memory>

#include "common/errors.hpp"
#include "common/parallel.hpp"
#include "instance/grey_png.hpp"

namespace fastpq {
namespace {

using Opener = std::function<void(GreyPngReader&, std::size_t)>;  // index 0: GT, i + 1: mask i

InstanceImageCounts count_with(const Opener& open, std::size_t n_masks, const std::string& gt_name,
                               const std::vector<std::string>& mask_names) {
  InstanceImageCounts out;
  try {
    GreyPngReader reader;
    open(reader, 0);
    if (!reader.is_plain_grey()) throw FormatError("PNG file '" + gt_name + "': instanceIds must be 8- or 16-bit greyscale");
    const std::uint32_t w = reader.width(), h = reader.height();
    const std::size_t n = std::size_t{w} * h;
    std::unique_ptr<std::uint32_t[]> index(new std::uint32_t[n]);
    std::vector<std::int64_t> hist(65536, 0);
    for (std::uint32_t y = 0; y < h; ++y) {
      std::uint32_t* row = index.get() + std::size_t{y} * w;
      reader.row_values(y, row);
      for (std::uint32_t x = 0; x < w; ++x) ++hist[row[x]];
    }
    std::vector<std::uint32_t> lut(65536, 0);
    for (std::uint32_t v = 0; v < 65536; ++v)
      if (hist[v]) {
        lut[v] = static_cast<std::uint32_t>(out.ids.size());
        out.ids.push_back(v);
        out.gt_pixels.push_back(hist[v]);
      }
    for (std::size_t i = 0; i < n; ++i) index[i] = lut[index[i]];
    const std::size_t k = out.ids.size();
    out.overlap.assign(n_masks * k, 0);
    std::vector<std::uint8_t> on(w);
    for (std::size_t m = 0; m < n_masks; ++m) {
      open(reader, m + 1);
      if (reader.width() != w || reader.height() != h) {
        out.error = InstanceImageCounts::kSize;
        out.message = "mask '" + mask_names[m] + "' is " + std::to_string(reader.width()) + "x" +
                      std::to_string(reader.height()) + ", the ground truth '" + gt_name + "' is " +
                      std::to_string(w) + "x" + std::to_string(h);
        return out;
      }
      std::int64_t* counts = out.overlap.data() + m * k;
      for (std::uint32_t y = 0; y < h; ++y) {
        std::uint32_t x0 = 0, x1 = 0;
        if (!reader.row_nonzero(y, on.data(), &x0, &x1)) continue;
        const std::uint32_t* ids = index.get() + std::size_t{y} * w;
        for (std::uint32_t x = x0; x < x1; ++x)
          if (on[x]) ++counts[ids[x]];
      }
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
  Opener open = [&](GreyPngReader& r, std::size_t i) {
    r.open_file(i == 0 ? gt_path : masks[i - 1], max_pixels);
  };
  return count_with(open, masks.size(), gt_path, masks);
}

InstanceImageCounts count_instance_memory(const std::vector<std::uint8_t>& gt_png,
                                          const std::vector<std::vector<std::uint8_t>>& mask_pngs,
                                          std::uint64_t max_pixels) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < mask_pngs.size(); ++i) names.push_back("<mask " + std::to_string(i) + ">");
  Opener open = [&](GreyPngReader& r, std::size_t i) {
    const auto& b = i == 0 ? gt_png : mask_pngs[i - 1];
    r.open_memory(b.data(), b.size(), i == 0 ? "<gt>" : names[i - 1], max_pixels);
  };
  return count_with(open, mask_pngs.size(), "<gt>", names);
}

std::vector<InstanceImageCounts> count_instance_buffers(const std::vector<InstanceImageBytes>& images, int workers,
                                                        std::uint64_t max_pixels) {
  for (const InstanceImageBytes& im : images)
    if (im.mask_data.size() != im.mask_sizes.size() || im.mask_data.size() != im.mask_names.size())
      throw UsageError("mask bytes, sizes and names differ in length");
  std::vector<InstanceImageCounts> out(images.size());
  parallel_for(static_cast<std::int64_t>(images.size()), workers, [&](std::int64_t i) {
    const InstanceImageBytes& im = images[i];
    Opener open = [&](GreyPngReader& r, std::size_t k) {
      if (k == 0)
        r.open_memory(im.gt_data, im.gt_size, im.gt_name, max_pixels);
      else
        r.open_memory(im.mask_data[k - 1], im.mask_sizes[k - 1], im.mask_names[k - 1], max_pixels);
    };
    out[i] = count_with(open, im.mask_data.size(), im.gt_name, im.mask_names);
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
