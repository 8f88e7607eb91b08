#include "inflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "errors.hpp"

#ifdef FASTPQ_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

namespace fastpq {

bool have_libdeflate() {
#ifdef FASTPQ_HAVE_LIBDEFLATE
  return true;
#else
  return false;
#endif
}

const char* default_inflate_backend_name() { return have_libdeflate() ? "libdeflate" : "zlib"; }

InflateBackend parse_inflate_backend(const std::string& name) {
  if (name.empty()) return InflateBackend::kDefault;
  if (name == "zlib") return InflateBackend::kZlib;
  if (name == "libdeflate") {
    if (!have_libdeflate()) throw UsageError("this build of fastpq has no libdeflate");
    return InflateBackend::kLibdeflate;
  }
  throw UsageError("unknown inflate backend '" + name + "' (expected 'libdeflate' or 'zlib')");
}

struct Inflater::State {
  bool use_libdeflate = false;
#ifdef FASTPQ_HAVE_LIBDEFLATE
  libdeflate_decompressor* deflate = nullptr;
#endif
  z_stream zs{};
  bool zs_ready = false;

  ~State() {
#ifdef FASTPQ_HAVE_LIBDEFLATE
    if (deflate) libdeflate_free_decompressor(deflate);
#endif
    if (zs_ready) inflateEnd(&zs);
  }

  InflateStatus with_zlib(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out,
                          std::size_t expected) {
    if (!zs_ready) {
      if (inflateInit(&zs) != Z_OK) throw std::bad_alloc();
      zs_ready = true;
    } else {
      inflateReset(&zs);
    }
    // zlib counts in uInt: feed and drain in pieces so sizes above 4 GiB stay correct.
    const std::uint8_t* in_end = in + in_size;
    std::uint8_t* out_end = out + expected;
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = 0;
    zs.next_out = out;
    zs.avail_out = 0;
    int rc = Z_OK;
    while (true) {
      if (zs.avail_in == 0 && zs.next_in < in_end)
        zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in_end - zs.next_in, UINT_MAX));
      if (zs.avail_out == 0 && zs.next_out < out_end)
        zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out_end - zs.next_out, UINT_MAX));
      if (zs.avail_out == 0) break;  // output full: check below that the stream ends here
      rc = ::inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        return zs.next_out == out_end ? InflateStatus::kOk : InflateStatus::kTooShort;
      }
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && zs.next_in == in_end)
        return InflateStatus::kCorrupt;  // input ended before the stream did
      if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateStatus::kCorrupt;
    }
    std::uint8_t probe[1];
    zs.next_out = probe;
    zs.avail_out = 1;
    while (true) {
      if (zs.avail_in == 0 && zs.next_in < in_end)
        zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in_end - zs.next_in, UINT_MAX));
      rc = ::inflate(&zs, Z_NO_FLUSH);
      if (zs.avail_out == 0) return InflateStatus::kTooLong;
      if (rc == Z_STREAM_END) return InflateStatus::kOk;
      if (rc != Z_OK) return InflateStatus::kCorrupt;
      if (zs.avail_in == 0 && zs.next_in == in_end) return InflateStatus::kCorrupt;
    }
  }
};

Inflater::Inflater(InflateBackend backend) : state_(new State) {
  if (backend == InflateBackend::kDefault)
    backend = have_libdeflate() ? InflateBackend::kLibdeflate : InflateBackend::kZlib;
  state_->use_libdeflate = backend == InflateBackend::kLibdeflate;
#ifdef FASTPQ_HAVE_LIBDEFLATE
  if (state_->use_libdeflate) {
    state_->deflate = libdeflate_alloc_decompressor();
    if (!state_->deflate) throw std::bad_alloc();
  }
#else
  if (state_->use_libdeflate) throw UsageError("this build of fastpq has no libdeflate");
#endif
}

Inflater::~Inflater() = default;

InflateStatus Inflater::inflate(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out,
                                std::size_t expected) {
#ifdef FASTPQ_HAVE_LIBDEFLATE
  if (state_->use_libdeflate) {
    std::size_t actual = 0;
    libdeflate_result rc =
        libdeflate_zlib_decompress(state_->deflate, in, in_size, out, expected, &actual);
    if (rc == LIBDEFLATE_SUCCESS && actual == expected) return InflateStatus::kOk;
    // A broken stream can be both corrupt and too long; which one a decoder notices first
    // differs, so zlib, read to the first problem, gives the one verdict both backends report.
  }
#endif
  return state_->with_zlib(in, in_size, out, expected);
}

std::uint32_t crc32_of(const std::uint8_t* data, std::size_t size, std::uint32_t crc) {
#ifdef FASTPQ_HAVE_LIBDEFLATE
  return libdeflate_crc32(crc, data, size);
#else
  while (size > 0) {
    uInt piece = static_cast<uInt>(std::min<std::size_t>(size, UINT_MAX));
    crc = static_cast<std::uint32_t>(::crc32(crc, data, piece));
    data += piece;
    size -= piece;
  }
  return crc;
#endif
}

}  // namespace fastpq
