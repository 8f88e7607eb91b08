// A pre-parse scan of JSON text: how deeply its arrays and objects nest (recursive parsers run out
// of stack on text like "[[[[...": the scan lets the caller refuse such text before parsing), and
// how long its longest number is.
#pragma once

#include <cstddef>

namespace fastpq {

struct JsonScan {
  std::size_t depth = 0;          // the deepest nesting of '[' / '{'
  std::size_t longest_digits = 0;  // the longest run of digits outside strings
};

// The deepest nesting of '[' / '{' in `text` and its longest run of digits, strings skipped (with
// their escapes); stops early, with a depth above `stop_above`, once the depth passes it. The text
// is not validated: unbalanced brackets and unterminated strings only end the scan. (A run of 19
// digits or more may be an integer beyond 64 bits, which some parsers turn into a float.)
JsonScan scan_json(const char* text, std::size_t size, std::size_t stop_above);

}  // namespace fastpq
