#include "train/dataset.h"

#include "io/input_file.h"
#include "kernels/error.h"

namespace cugpt {

namespace {
std::uint64_t mix(std::uint64_t z) {  // splitmix64's finaliser
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void fill(const std::vector<std::int32_t>& tokens, std::int64_t start, std::int64_t T,
          std::int64_t row, std::vector<std::int32_t>& inputs, std::vector<std::int32_t>& targets) {
  for (std::int64_t t = 0; t < T; ++t) {
    inputs[row * T + t] = tokens[start + t];
    targets[row * T + t] = tokens[start + t + 1];
  }
}
// llm.c's token files (dev/data/*.bin): a header of 256 little-endian int32 (magic 20240520,
// version 1 for uint16 ids or 2 for uint32, the token count), then the ids. Returns the bytes
// of the header (0 when the file has none) and sets `width` from the version.
std::size_t llmc_header(const std::vector<unsigned char>& bytes, const std::string& path,
                        std::size_t& width) {
  constexpr std::size_t kHeader = 256 * 4;
  constexpr std::uint32_t kMagic = 20240520;
  const auto word = [&](std::size_t i) {
    std::uint32_t v = 0;
    for (std::size_t b = 0; b < 4; ++b)
      v |= static_cast<std::uint32_t>(bytes[4 * i + b]) << (8 * b);
    return v;
  };
  if (bytes.size() < 4 || word(0) != kMagic) return 0;
  const auto fail = [&](const std::string& what) {
    throw Error("data '" + path + "': an llm.c token file (magic 20240520) " + what);
  };
  if (bytes.size() < kHeader) fail("shorter than its 1024-byte header");
  const std::uint32_t version = word(1);
  if (version != 1 && version != 2)
    fail("of version " + std::to_string(version) + " (1: uint16 ids, 2: uint32)");
  width = version == 1 ? 2 : 4;
  const std::uint64_t count = word(2), have = (bytes.size() - kHeader) / width;
  if ((bytes.size() - kHeader) % width != 0 || count != have)
    fail("says " + std::to_string(count) + " tokens and holds " +
         std::to_string(bytes.size() - kHeader) + " bytes of uint" + std::to_string(8 * width) +
         " ids");
  return kHeader;
}
}  // namespace

// Every token becomes an int32 in memory (4 bytes a byte of text): 2 GiB of data is 8 GiB.
constexpr std::uint64_t kMaxDataBytes = 2ull << 30;

DataFormat data_format(const std::string& path) {
  if (ends_with(path, ".u32.bin") || ends_with(path, ".bin32")) return DataFormat::u32;
  return ends_with(path, ".bin") ? DataFormat::u16 : DataFormat::text;
}

Dataset Dataset::load(const std::string& path, std::int64_t vocab, double val_fraction,
                      const Tokenizer* tokenizer) {
  // A regular file, read whole up to the limit: a FIFO would hang, /dev/zero never end.
  const std::string raw = read_regular_file("data", path, kMaxDataBytes);
  const auto* bytes_begin = reinterpret_cast<const unsigned char*>(raw.data());
  const std::vector<unsigned char> bytes(bytes_begin, bytes_begin + raw.size());
  std::vector<std::int32_t> tokens;
  const DataFormat format = data_format(path);
  const bool u32 = format == DataFormat::u32;
  if (format != DataFormat::text) {
    std::size_t width = u32 ? 4 : 2;
    const std::size_t start = llmc_header(bytes, path, width);  // llm.c's header: its width
    if ((bytes.size() - start) % width != 0)
      throw Error("data '" + path + "': " + std::to_string(bytes.size()) +
                  " bytes is not a whole number of uint" + std::to_string(8 * width) + " ids");
    for (std::size_t i = start; i < bytes.size(); i += width) {
      std::uint32_t id = 0;
      for (std::size_t b = 0; b < width; ++b)
        id |= static_cast<std::uint32_t>(bytes[i + b]) << (8 * b);
      if (id >= static_cast<std::uint64_t>(vocab))
        throw Error("data '" + path + "': token id " + std::to_string(id) + " at position " +
                    std::to_string((i - start) / width) + " is outside the vocabulary of " +
                    std::to_string(vocab));
      tokens.push_back(static_cast<std::int32_t>(id));
    }
  } else {
    static const ByteTokenizer bytes_only;
    const Tokenizer& t = tokenizer ? *tokenizer : bytes_only;
    if (vocab < t.vocab_size())
      throw Error("data '" + path + "': text tokenized by the " + t.name() +
                  " tokenizer needs a vocabulary of at least " + std::to_string(t.vocab_size()) +
                  ", the model has " + std::to_string(vocab));
    tokens = t.encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  try {
    return from_tokens(std::move(tokens), vocab, val_fraction);
  } catch (const Error& e) {
    throw Error("data '" + path + "': " + e.what());
  }
}

Dataset Dataset::from_tokens(std::vector<std::int32_t> tokens, std::int64_t vocab,
                             double val_fraction) {
  if (!(val_fraction > 0 && val_fraction < 1))
    throw Error("validation fraction must be between 0 and 1");
  for (std::int32_t t : tokens)
    if (t < 0 || t >= vocab)
      throw Error("token id " + std::to_string(t) + " outside the vocabulary");
  Dataset d;
  d.split_ = static_cast<std::int64_t>(static_cast<double>(tokens.size()) * (1 - val_fraction));
  d.tokens_ = std::move(tokens);
  return d;
}

void Dataset::require_sequence(const std::string& path, std::int64_t T, bool validation) const {
  const auto check = [&](const char* split, std::int64_t n, const char* hint) {
    if (n < T + 1)
      throw Error("data '" + path + "': the " + split + " split has " + std::to_string(n) +
                  " tokens, fewer than one sequence of " + std::to_string(T) + " plus its target" +
                  hint);
  };
  check("training", train_tokens(), " (give more data or a shorter --seq)");
  if (validation)
    check("validation", val_tokens(),
          " (the last 10% of the data; --eval-every needs it: give more data, a shorter --seq, "
          "or --eval-every 0)");
}

void Dataset::train_batch(std::uint64_t seed, std::int64_t step, std::int64_t B, std::int64_t T,
                          std::vector<std::int32_t>& inputs, std::vector<std::int32_t>& targets,
                          std::int64_t first_row) const {
  // A window of T inputs needs T + 1 tokens.
  if (split_ < T + 1)
    throw Error("the training split has " + std::to_string(split_) +
                " tokens, fewer than one sequence of " + std::to_string(T) + " plus its target");
  inputs.resize(static_cast<std::size_t>(B * T));
  targets.resize(static_cast<std::size_t>(B * T));
  const std::uint64_t span = static_cast<std::uint64_t>(split_ - T);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::uint64_t r = mix(seed ^ mix(static_cast<std::uint64_t>(step) * 1000003u +
                                           static_cast<std::uint64_t>(first_row + b)));
    fill(tokens_, static_cast<std::int64_t>(r % span), T, b, inputs, targets);
  }
}

void Dataset::val_batch(std::int64_t index, std::int64_t B, std::int64_t T,
                        std::vector<std::int32_t>& inputs,
                        std::vector<std::int32_t>& targets) const {
  const std::int64_t n = val_tokens();
  if (n < T + 1)
    throw Error("the validation split has " + std::to_string(n) +
                " tokens, fewer than one sequence of " + std::to_string(T) + " plus its target");
  inputs.resize(static_cast<std::size_t>(B * T));
  targets.resize(static_cast<std::size_t>(B * T));
  const std::int64_t windows = (n - 1) / T;  // non-overlapping windows, cycled
  for (std::int64_t b = 0; b < B; ++b)
    fill(tokens_, split_ + ((index * B + b) % windows) * T, T, b, inputs, targets);
}

}  // namespace cugpt
