// The one error family of cugpt. Every layer throws cugpt::Error (or a subclass); library code
// never calls exit(). This header sits in kernels/ because it is the bottom layer.
#pragma once

#include <stdexcept>
#include <string>

namespace cugpt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Builds "file:line: message" for errors raised by a failed check.
std::string located(const char* file, int line, const std::string& message);

}  // namespace cugpt

#define CUGPT_CHECK(cond, msg)                                                      \
  do {                                                                              \
    if (!(cond)) throw ::cugpt::Error(::cugpt::located(__FILE__, __LINE__, (msg))); \
  } while (0)
