// Canvas to PNG file. The file appears whole or not at all: the bytes go to a temporary file
// beside the target, which is renamed into place only once complete (io/atomic_file.h).
#pragma once

#include <string>

#include "viz/canvas.h"

namespace cugpt::viz {

// The PNG encoding of a canvas (8-bit RGB, no interlace).
std::string encode_png(const Canvas& canvas);

// Throws cugpt::Error "cannot write '<path>': <reason>" and leaves no file behind on failure.
void write_png(const std::string& path, const Canvas& canvas);

}  // namespace cugpt::viz
