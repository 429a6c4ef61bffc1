#include "nn/device.h"

#include <cctype>

#include "kernels/error.h"

namespace cugpt {

std::string Device::str() const {
  switch (type) {
    case DeviceType::cpu:
      return "cpu";
    case DeviceType::meta:
      return "meta";
    case DeviceType::cuda:
      return "cuda:" + std::to_string(index);
  }
  return "?";
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "meta") return Device::meta();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 9) {
    int index = 0;
    for (std::size_t i = 5; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) index = -1;
      if (index >= 0) index = index * 10 + (text[i] - '0');
    }
    if (index >= 0) return Device::cuda(index);
  }
  throw Error("unknown device '" + text + "' (expected cpu, meta, cuda or cuda:N)");
}

}  // namespace cugpt
