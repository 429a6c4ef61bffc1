#include "kernels/error.h"

#include <cstring>

namespace cugpt {

std::string located(const char* file, int line, const std::string& message) {
  const char* slash = std::strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line) + ": " + message;
}

}  // namespace cugpt
