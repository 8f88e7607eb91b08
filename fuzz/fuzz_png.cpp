// PNG reader: any bytes through PanopticPngReader::open_memory and next_row_ids, with both inflate
// backends. Findings besides sanitizer reports: the backends disagreeing (see check below),
// an accepted image whose ids differ from the independent decoder in png_oracle.hpp, and row
// kernels (generic and AVX2) that disagree with it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "fuzz_input.hpp"
#include "png/inflate.hpp"
#include "png_oracle.hpp"
#include "png/png_reader.hpp"
#include "png/png_rows.hpp"

namespace {

using namespace fastpq;
using namespace fastpq_fuzz;

// Small enough for thousands of executions a second, large enough for multi-vector rows.
constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 20;

struct Outcome {
  bool ok = false;
  std::string error;
  std::vector<std::uint32_t> ids;
};

// Readers live across inputs, as the engine's per-thread readers do, so buffer reuse is exercised.
PanopticPngReader& reader_for(InflateBackend backend) {
  static PanopticPngReader zlib_reader(InflateBackend::kZlib);
#ifdef FASTPQ_HAVE_LIBDEFLATE
  static PanopticPngReader libdeflate_reader(InflateBackend::kLibdeflate);
  if (backend == InflateBackend::kLibdeflate) return libdeflate_reader;
#endif
  (void)backend;
  return zlib_reader;
}

Outcome read(const std::string& png, InflateBackend backend) {
  PanopticPngReader& reader = reader_for(backend);
  Outcome out;
  try {
    reader.open_memory(reinterpret_cast<const std::uint8_t*>(png.data()), png.size(), "fuzz.png", kMaxPixels);
    const std::size_t width = reader.width(), height = reader.height();
    out.ids.resize(width * height);
    for (std::size_t y = 0; y < height; ++y) reader.next_row_ids(out.ids.data() + y * width);
    out.ok = true;
  } catch (const FormatError& e) {
    out.error = e.what();
    out.ids.clear();
  }
  return out;
}

// Runs one kernel set over the reference's inflated rows and checks ids and Adler-32.
void check_kernels(const RowKernels& kernels, const Decoded& d) {
  const std::size_t row_bytes = std::size_t{d.width} * d.channels + 1;
  std::vector<std::uint8_t> row(row_bytes + 64);  // the kernels read up to 16 bytes past the row
  std::vector<std::uint32_t> bits(row_scratch_words(d.width, d.channels));
  std::vector<Run> above(d.width + 1), current(d.width + 1);
  above[0] = {d.width, 0};
  std::size_t above_count = 1;
  std::uint32_t adler = 1;
  for (std::size_t y = 0; y < d.height; ++y) {
    std::copy(d.raw.begin() + y * row_bytes, d.raw.begin() + (y + 1) * row_bytes, row.begin());
    std::size_t count = kernels.decode_row(row.data(), d.width, d.channels, above.data(), current.data(), &adler,
                                           bits.data());
    if (count == 0) {
      if (row[0] != 2) finding("a kernel reported a repeated row for a filter other than Up");
      current = above;
      count = above_count;
    }
    std::size_t x = 0;
    for (std::size_t r = 0; r < count; ++r) {
      if (current[r].end <= x || current[r].end > d.width) finding("row kernel produced runs out of order");
      for (; x < current[r].end; ++x)
        if (d.ids[y * d.width + x] != current[r].id) finding("row kernel ids differ from the reference decoder");
    }
    if (x != d.width) finding("row kernel runs do not cover the row");
    above.swap(current);
    above_count = count;
  }
  const std::uint32_t expected = static_cast<std::uint32_t>(::adler32(1, d.raw.data(), static_cast<uInt>(d.raw.size())));
  if (adler != expected) finding("row kernel Adler-32 differs from zlib's");
}

void check(const std::string& png) {
  const Outcome zlib_outcome = read(png, InflateBackend::kZlib);
#ifdef FASTPQ_HAVE_LIBDEFLATE
  const Outcome deflate_outcome = read(png, InflateBackend::kLibdeflate);
  // libdeflate is deliberately more lenient than zlib with a few invalid streams (symbols 286 and
  // 287, some incomplete codes: libdeflate issue #288), decoding them safely; the reader then
  // refuses them at the Adler-32 check with another message, or (for a crafted checksum) accepts
  // them. So only zlib accepting what libdeflate refuses, or the two decoding different ids, is a
  // finding.
  if ((zlib_outcome.ok && !deflate_outcome.ok) || (zlib_outcome.ok && deflate_outcome.ids != zlib_outcome.ids))
    finding("libdeflate and zlib backends disagree");
#endif
  if (!zlib_outcome.ok) return;
  const Decoded d = reference_decode(reinterpret_cast<const std::uint8_t*>(png.data()), png.size());
  if (!d.ok) finding("the reader accepted image data that zlib refuses");
  if (d.ids != zlib_outcome.ids) finding("reader ids differ from the reference decoder");
  check_kernels(rows_generic::kernels, d);
#ifdef FASTPQ_HAVE_AVX2_KERNELS
  if (__builtin_cpu_supports("avx2")) check_kernels(rows_avx2::kernels, d);
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
