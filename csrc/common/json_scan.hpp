// A pre-parse scan of JSON text: how deeply its arrays and objects nest. Recursive parsers run
// out of stack on text like "[[[[...": the scan lets the caller refuse such text before parsing.
#pragma once

#include <cstddef>

namespace fastpq {

// The deepest nesting of '[' / '{' in `text`, strings skipped (with their escapes); stops early
// and returns a value above `stop_above` once the depth passes it. The text is not validated:
// unbalanced brackets and unterminated strings only end the scan.
std::size_t json_nesting_depth(const char* text, std::size_t size, std::size_t stop_above);

}  // namespace fastpq
