// The JSON scan (csrc/common/json_scan.*) that guards the Python JSON parsers. Findings besides
// sanitizer reports: a depth or longest digit run differing from a character-by-character oracle
// that tracks string state explicitly, or an early stop that is not above the bound.
//
// Input: u8 bound, then the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/json_scan.hpp"

namespace {

fastpq::JsonScan oracle(const char* text, std::size_t size) {
  fastpq::JsonScan out;
  std::size_t depth = 0, digits = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < size; ++i) {
    const char c = text[i];
    const bool digit = !in_string && c >= '0' && c <= '9';
    digits = digit ? digits + 1 : 0;
    if (digits > out.longest_digits) out.longest_digits = digits;
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > out.depth) out.depth = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t bound = data[0];
  const char* text = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;
  const fastpq::JsonScan want = oracle(text, n), scan = fastpq::scan_json(text, n, static_cast<std::size_t>(-1));
  if (scan.depth != want.depth || scan.longest_digits != want.longest_digits) std::abort();
  const std::size_t full = scan.depth, bounded = fastpq::scan_json(text, n, bound).depth;
  if (full > bound ? bounded <= bound : bounded != full) std::abort();
  return 0;
}
