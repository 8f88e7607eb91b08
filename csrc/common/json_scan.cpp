#include "common/json_scan.hpp"

#include <cstring>

namespace fastpq {

JsonScan scan_json(const char* text, std::size_t size, std::size_t stop_above) {
  JsonScan out;
  std::size_t depth = 0;
  const char* p = text;
  const char* end = text + size;
  while (p < end) {
    const char c = *p++;
    if (c == '"') {
      // Skip the string: to the next quote not escaped by an odd run of backslashes.
      for (;;) {
        const void* q = std::memchr(p, '"', static_cast<std::size_t>(end - p));
        if (q == nullptr) return out;
        const char* quote = static_cast<const char*>(q);
        std::size_t backslashes = 0;
        for (const char* b = quote; b > p && b[-1] == '\\'; --b) ++backslashes;
        p = quote + 1;
        if (backslashes % 2 == 0) break;
      }
    } else if (c == '[' || c == '{') {
      if (++depth > out.depth) {
        out.depth = depth;
        if (out.depth > stop_above) return out;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c >= '0' && c <= '9') {
      const char* start = p - 1;
      while (p < end && *p >= '0' && *p <= '9') ++p;
      const std::size_t digits = static_cast<std::size_t>(p - start);
      if (digits > out.longest_digits) out.longest_digits = digits;
    }
  }
  return out;
}

}  // namespace fastpq
