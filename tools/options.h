// The validation layer of the command line's numeric options (io/numbers.h does the parsing,
// for options and for metadata read back from files alike). Each is a CLI11 validator on the
// option's text, so it runs before the value is converted: `--lr nan`, `--log-every 0`,
// `--max-new 9223372036854775807`, `--vram 16000000TiB` end as one line naming the option
// ("--lr: 'nan' is not a finite number"), exit 2, before any work.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "io/numbers.h"

namespace cugpt::tools::opt {

// An integer in [min, max].
CLI::Validator count(std::int64_t min, std::int64_t max = kInt64Max);
// A 64-bit seed: an integer in [0, 2^64-1] (CLI11 alone turns "-1" into 2^64-1).
CLI::Validator seed();
// A finite number in [min, max] (no nan, no inf).
CLI::Validator real(double min, double max);
// A byte size with units (4GiB, 512MiB) in [1, 1 PiB]: beyond that a size is a typo, and
// 16000000TiB would overflow 64 bits.
CLI::Validator size(std::uint64_t min = 1);

// A bandwidth: a size with units per second ("16GB/s", "12.5 GiB/s") in [1 MB/s, 1 PB/s].
CLI::Validator bandwidth();
// The bandwidth option's value in bytes per second.
double parse_bandwidth(const std::string& option, const std::string& text);

// The size option's value (validated as size() does); `option` names it in messages.
std::uint64_t parse_size(const std::string& option, const std::string& text, std::uint64_t min = 1);
// The machine's physical memory in bytes (0 when unknown): a cpu arena larger than this would
// be refused by nothing until the machine swaps.
std::uint64_t physical_memory();
// The memory the kernel says new work can have without swapping (MemAvailable; 0 when unknown):
// what a cpu arena sized by default may use.
std::uint64_t available_memory();

// Largest sequence, batch, count an option may ask for: far beyond any model, small enough that
// products of two of them cannot overflow int64.
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;
constexpr std::int64_t kMaxSteps = std::int64_t{1} << 40;
constexpr std::int64_t kMaxBatch = std::int64_t{1} << 38;  // x kMaxTokens < 2^63

}  // namespace cugpt::tools::opt
