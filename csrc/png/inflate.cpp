#include "png/inflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "common/errors.hpp"

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

  // Raw deflate with zlib; `consumed` receives the compressed bytes the stream used.
  InflateStatus with_zlib(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out, std::size_t expected,
                          std::size_t* consumed) {
    if (!zs_ready) {
      if (inflateInit2(&zs, -15) != Z_OK) throw std::bad_alloc();
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
    auto refill_input = [&] {
      if (zs.avail_in == 0 && zs.next_in < in_end)
        zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in_end - zs.next_in, UINT_MAX));
    };
    auto stream_end = [&](InflateStatus status) {
      *consumed = static_cast<std::size_t>(zs.next_in - in);
      return status;
    };
    while (true) {
      refill_input();
      if (zs.avail_out == 0 && zs.next_out < out_end)
        zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out_end - zs.next_out, UINT_MAX));
      if (zs.avail_out == 0) break;  // output full: check below that the stream ends here
      int rc = ::inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END)
        return stream_end(zs.next_out == out_end ? InflateStatus::kOk : InflateStatus::kTooShort);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateStatus::kCorrupt;
      if (zs.avail_in == 0 && zs.next_in == in_end && zs.avail_out != 0) return InflateStatus::kCorrupt;
    }
    std::uint8_t probe[1];
    zs.next_out = probe;
    zs.avail_out = 1;
    while (true) {
      refill_input();
      int rc = ::inflate(&zs, Z_NO_FLUSH);
      if (zs.avail_out == 0) return InflateStatus::kTooLong;
      if (rc == Z_STREAM_END) return stream_end(InflateStatus::kOk);
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
                                std::size_t expected, std::uint32_t* adler) {
  // The zlib header: deflate, a window of at most 32 KiB, a valid check value, no preset dictionary.
  if (in_size < 2) return InflateStatus::kCorrupt;
  const unsigned cmf = in[0], flg = in[1];
  if ((cmf & 15) != 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 != 0 || (flg & 0x20))
    return InflateStatus::kCorrupt;
  in += 2;
  in_size -= 2;
  std::size_t consumed = 0;
  InflateStatus status = InflateStatus::kCorrupt;
  bool decoded = false;
#ifdef FASTPQ_HAVE_LIBDEFLATE
  if (state_->use_libdeflate) {
    std::size_t actual = 0;
    libdeflate_result rc =
        libdeflate_deflate_decompress_ex(state_->deflate, in, in_size, out, expected, &consumed, &actual);
    // A broken stream can be both corrupt and too long; which one a decoder notices first
    // differs, so on failure zlib, read to the first problem, gives the verdict for both.
    if (rc == LIBDEFLATE_SUCCESS && actual == expected) {
      status = InflateStatus::kOk;
      decoded = true;
    }
  }
#endif
  if (!decoded) status = state_->with_zlib(in, in_size, out, expected, &consumed);
  if (status != InflateStatus::kOk) return status;
  if (in_size - consumed < 4) return InflateStatus::kCorrupt;  // no Adler-32 trailer
  const std::uint8_t* t = in + consumed;
  *adler = (std::uint32_t{t[0]} << 24) | (std::uint32_t{t[1]} << 16) | (std::uint32_t{t[2]} << 8) | t[3];
  return InflateStatus::kOk;
}

std::uint32_t adler32_of(const std::uint8_t* data, std::size_t size, std::uint32_t adler) {
#ifdef FASTPQ_HAVE_LIBDEFLATE
  return libdeflate_adler32(adler, data, size);
#else
  while (size > 0) {
    uInt piece = static_cast<uInt>(std::min<std::size_t>(size, UINT_MAX));
    adler = static_cast<std::uint32_t>(::adler32(adler, data, piece));
    data += piece;
    size -= piece;
  }
  return adler;
#endif
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
