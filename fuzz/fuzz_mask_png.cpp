// Mask PNG reader: any bytes through MaskPngReader, decoded on runs (sparse_inflate and the
// run-based unfiltering) and densely (LabelPngReader's rows, inflated by zlib, whose verdicts the
// run decoder follows; libdeflate is more lenient, see fuzz_png.cpp). Findings besides sanitizer
// reports: the two decodings disagreeing on the non-zero pixels or on whether the file is
// readable, and runs that are unsorted, empty, touching or outside the image.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "png/mask_png.hpp"

namespace {

using namespace fastpq;

constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 20;

struct Outcome {
  bool ok = false;
  std::vector<PixelRun> runs;
};

Outcome read(const std::uint8_t* data, std::size_t size, bool dense, MaskPngReader::Output output) {
  static MaskPngReader reader(InflateBackend::kZlib);
  reader.force_dense(dense);
  Outcome out;
  try {
    reader.open_memory(data, size, "fuzz.png", kMaxPixels, output);
    out.ok = true;
    out.runs = reader.runs();
    if (output == MaskPngReader::Output::kValues) {
      const auto& start = reader.value_start();
      const auto& row = reader.value_row();
      if (row.size() != std::size_t{reader.height()} + 1) fastpq_fuzz::finding("value rows of the wrong count");
      for (std::uint32_t y = 0; y < reader.height(); ++y) {
        if (row[y] >= row[y + 1] || start[row[y]] != 0) fastpq_fuzz::finding("a value row not starting at 0");
        for (std::size_t k = row[y] + 1; k < row[y + 1]; ++k)
          if (start[k] <= start[k - 1] || start[k] >= reader.width()) fastpq_fuzz::finding("value runs out of order");
        out.runs.push_back(PixelRun{y, static_cast<std::uint32_t>(row[y + 1] - row[y]), 0});
      }
      for (std::size_t k = 0; k < start.size(); ++k)
        out.runs.push_back(PixelRun{start[k], reader.value_of()[k], 1});
    } else {
      const PixelRun* prev = nullptr;
      for (const PixelRun& r : reader.runs()) {
        if (r.x0 >= r.x1 || r.x1 > reader.width() || r.y >= reader.height()) fastpq_fuzz::finding("a run outside the image");
        if (prev && (r.y < prev->y || (r.y == prev->y && r.x0 <= prev->x1))) fastpq_fuzz::finding("runs out of order");
        prev = &r;
      }
    }
  } catch (const FormatError& e) {
    if (std::string(e.what()).find("fuzz.png") == std::string::npos) fastpq_fuzz::finding("an error not naming the file");
  }
  return out;
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.ok != b.ok || a.runs.size() != b.runs.size()) return false;
  for (std::size_t i = 0; i < a.runs.size(); ++i)
    if (a.runs[i].y != b.runs[i].y || a.runs[i].x0 != b.runs[i].x0 || a.runs[i].x1 != b.runs[i].x1) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (MaskPngReader::Output output : {MaskPngReader::Output::kNonzero, MaskPngReader::Output::kValues}) {
    const Outcome sparse = read(data, size, false, output), dense = read(data, size, true, output);
    if (!same(sparse, dense)) fastpq_fuzz::finding("run and dense decoding disagree");
  }
  return 0;
}
