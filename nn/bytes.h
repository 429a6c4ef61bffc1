// Byte sizes as people read and write them: "96.0 MiB", "4.00 GiB", "--vram 4GiB".
#pragma once

#include <cstdint>
#include <string>

namespace cugpt {

// Binary units: B below 1 KiB, then KiB and MiB with one decimal, GiB with two.
std::string format_bytes(std::uint64_t bytes);

// Parses "4GiB", "512 MiB", "4096M", "1.5G", "1000000" (plain bytes). K/M/G/T and KiB/MiB/...
// are binary (1024-based); KB/MB/GB/TB are decimal. Throws cugpt::Error on anything else.
std::uint64_t parse_bytes(const std::string& text);

}  // namespace cugpt
