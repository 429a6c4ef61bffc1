// File inputs: every file cugpt reads (weights, data, configs, tokenizer files, manifests) must be
// a regular file, checked before a byte is read, and is read up to a limit that depends on what
// the file is. A FIFO would block the reader forever, /dev/zero would grow it without bound, and
// a directory fails every read with a message that does not say why.
#pragma once

#include <cstdint>
#include <string>

namespace cugpt {

// The size of the regular file at `path` (symbolic links followed). Opens it without blocking
// (O_NONBLOCK, so a FIFO cannot hang the check) and fstats the open file. Throws cugpt::Error
// "<what> '<path>': cannot open: <strerror>" or "<what> '<path>': is a FIFO, not a regular file".
std::uint64_t regular_file_size(const std::string& what, const std::string& path);

// The whole file, after the check above; refuses a file larger than `max_bytes`
// ("<what> '<path>': 2.0 GiB is more than the 1.0 GiB limit for a <what>"). Reads at most
// `max_bytes` + 1 bytes even if the file grows meanwhile.
std::string read_regular_file(const std::string& what, const std::string& path,
                              std::uint64_t max_bytes);

// FNV-1a 64 of the whole regular file (checked as above), read in 1 MiB pieces; `*bytes` gets
// its size. Throws naming the file.
std::uint64_t file_fnv1a64(const std::string& what, const std::string& path,
                           std::uint64_t* bytes = nullptr);

}  // namespace cugpt
