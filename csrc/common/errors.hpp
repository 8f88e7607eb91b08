// Error types of the fastpq core. The core throws these; callers translate them.
#pragma once

#include <stdexcept>
#include <string>

namespace fastpq {

// A file that cannot be read, or bytes that are not an acceptable panoptic PNG.
// The message names the file.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file that does not exist.
class FileNotFound : public FormatError {
 public:
  using FormatError::FormatError;
};

// Arguments that contradict each other (array lengths, offsets); a bug in the caller.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace fastpq
