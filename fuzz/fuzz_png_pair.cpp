// Joint histogram of two fuzzed PNGs (input: 32-bit little-endian length of the ground-truth PNG,
// its bytes, then the prediction PNG), read row by row as the file engine reads them, and of the
// same ids as in-memory id maps of every element type. Findings besides sanitizer reports: either
// histogram differing from pixel-by-pixel counts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "panoptic/joint_histogram.hpp"
#include "png_oracle.hpp"
#include "png/png_reader.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 18;

using Counts = std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t>;

Counts entries_of(const JointHistogram& hist) {
  std::vector<HistEntry> entries;
  hist.sorted_entries(entries);
  Counts out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && !(std::make_pair(entries[i - 1].gt, entries[i - 1].pred) < std::make_pair(entries[i].gt, entries[i].pred)))
      finding("histogram entries are not sorted and unique");
    if (entries[i].count == 0) finding("histogram entry with count 0");
    out[{entries[i].gt, entries[i].pred}] = entries[i].count;
  }
  return out;
}

// The ids converted to element type T and histogrammed through the in-memory path.
template <typename T>
Counts id_map_histogram(const std::vector<std::uint32_t>& gt, const std::vector<std::uint32_t>& pred, IdType type,
                        std::size_t height, std::size_t width, JointHistogram& hist) {
  std::vector<T> g(gt.begin(), gt.end()), p(pred.begin(), pred.end());
  build_joint_histogram(IdMapView{g.data(), type}, IdMapView{p.data(), type}, height, width, hist);
  return entries_of(hist);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::uint32_t gt_length = in.u32();
  const std::string gt_png = with_fixed_crcs(in.bytes(gt_length));
  const std::string pred_png = with_fixed_crcs(in.bytes(in.left()));

  // zlib, like the oracle: libdeflate's leniency with some invalid streams is fuzz_png's subject.
  // One reader for both images, as the engine reads them: the ground truth's rows are kept first.
  static PanopticPngReader png(InflateBackend::kZlib);
  static StoredRows gt;
  static JointHistogram hist;
  try {
    png.open_memory(reinterpret_cast<const std::uint8_t*>(gt_png.data()), gt_png.size(), "gt.png", kMaxPixels);
    gt.read(png);
    png.open_memory(reinterpret_cast<const std::uint8_t*>(pred_png.data()), pred_png.size(), "pred.png", kMaxPixels);
    if (gt.width() != png.width() || gt.height() != png.height()) return 0;  // the engine refuses these
    build_joint_histogram(gt, png, hist);
  } catch (const FormatError&) {
    return 0;
  }
  const Counts from_png = entries_of(hist);

  const Decoded g = reference_decode(reinterpret_cast<const std::uint8_t*>(gt_png.data()), gt_png.size());
  const Decoded p = reference_decode(reinterpret_cast<const std::uint8_t*>(pred_png.data()), pred_png.size());
  if (!g.ok || !p.ok) finding("the reader accepted image data that zlib refuses");
  Counts expected;
  for (std::size_t i = 0; i < g.ids.size(); ++i) ++expected[{g.ids[i], p.ids[i]}];
  if (from_png != expected) finding("PNG joint histogram differs from pixel counts");

  const std::size_t h = g.height, w = g.width;
  if (id_map_histogram<std::uint32_t>(g.ids, p.ids, IdType::kU32, h, w, hist) != expected ||
      id_map_histogram<std::int32_t>(g.ids, p.ids, IdType::kI32, h, w, hist) != expected ||
      id_map_histogram<std::int64_t>(g.ids, p.ids, IdType::kI64, h, w, hist) != expected ||
      id_map_histogram<std::uint64_t>(g.ids, p.ids, IdType::kU64, h, w, hist) != expected)
    finding("id-map joint histogram differs from pixel counts");
  return 0;
}
