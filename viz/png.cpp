#include "viz/png.h"

#include "io/atomic_file.h"
#include "kernels/error.h"

// The one definition of stb_image_write's functions in cugpt (Debian's libstb-dev headers).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

namespace cugpt::viz {

namespace {
void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<std::size_t>(size));
}
}  // namespace

std::string encode_png(const Canvas& canvas) {
  std::string bytes;
  const int ok = stbi_write_png_to_func(append, &bytes, canvas.width(), canvas.height(), 3,
                                        canvas.data(), canvas.width() * 3);
  if (!ok)
    throw Error("PNG encoding of a " + std::to_string(canvas.width()) + "x" +
                std::to_string(canvas.height()) + " canvas failed");
  return bytes;
}

void write_png(const std::string& path, const Canvas& canvas) {
  std::string bytes;
  try {
    bytes = encode_png(canvas);
  } catch (const Error& e) {
    throw Error("cannot write '" + path + "': " + e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace cugpt::viz
