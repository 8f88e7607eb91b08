// Label-map PNG reader: any bytes through LabelPngReader::open_memory and next_row with both
// inflate backends. Findings besides sanitizer reports: the backends disagreeing on what zlib
// accepts, labels outside the range the header's bit depth and colour type allow, and labels that
// differ from png_oracle.hpp's byte-by-byte decoder (the reader takes 8-byte shortcuts on runs).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "png/label_png.hpp"
#include "png_oracle.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 20;

struct Outcome {
  bool ok = false;
  std::vector<std::uint32_t> labels;
};

LabelPngReader& reader_for(InflateBackend backend) {
  static LabelPngReader zlib_reader(InflateBackend::kZlib);
#ifdef FASTPQ_HAVE_LIBDEFLATE
  static LabelPngReader libdeflate_reader(InflateBackend::kLibdeflate);
  if (backend == InflateBackend::kLibdeflate) return libdeflate_reader;
#endif
  (void)backend;
  return zlib_reader;
}

Outcome read(const std::string& png, InflateBackend backend) {
  LabelPngReader& reader = reader_for(backend);
  Outcome out;
  try {
    reader.open_memory(reinterpret_cast<const std::uint8_t*>(png.data()), png.size(), "fuzz.png", kMaxPixels);
    const std::size_t w = reader.width(), h = reader.height();
    out.labels.resize(w * h);
    for (std::size_t y = 0; y < h; ++y) reader.next_row(out.labels.data() + y * w);
    const std::uint64_t limit = reader.label_bytes() == 1 ? 0xFFu : reader.label_bytes() == 2 ? 0xFFFFu : 0xFFFFFFu;
    for (std::uint32_t v : out.labels)
      if (v > limit) finding("a label larger than its sample type allows");
    out.ok = true;
  } catch (const FormatError&) {
    out.labels.clear();
  }
  return out;
}

void check(const std::string& png) {
  const Outcome zlib_outcome = read(png, InflateBackend::kZlib);
  if (zlib_outcome.ok &&
      reference_labels(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()) != zlib_outcome.labels)
    finding("labels differ from the byte-by-byte decoder");
#ifdef FASTPQ_HAVE_LIBDEFLATE
  const Outcome deflate_outcome = read(png, InflateBackend::kLibdeflate);
  // libdeflate decodes a few invalid streams zlib refuses (libdeflate issue #288): only zlib
  // accepting what libdeflate refuses, or different labels, is a finding.
  if ((zlib_outcome.ok && !deflate_outcome.ok) || (zlib_outcome.ok && deflate_outcome.labels != zlib_outcome.labels))
    finding("libdeflate and zlib backends disagree");
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string png(reinterpret_cast<const char*>(data), size);
  check(png);
  const std::string fixed = with_fixed_crcs(png);
  if (fixed != png) check(fixed);
  return 0;
}
