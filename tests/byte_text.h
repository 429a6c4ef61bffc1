// A small English-like text of about 20 kB, the same on every run: what the learning tests
// train a byte-level model on.
#pragma once

#include <random>
#include <string>
#include <vector>

namespace cugpt {

inline std::string byte_text() {
  std::mt19937 rng(0);
  const std::vector<std::string> words = {"the", "cat", "sat", "on",  "a",    "mat", "and",
                                          "dog", "ran", "to",  "red", "barn", "in",  "trees"};
  std::string text;
  while (text.size() < 20000) text += words[rng() % words.size()] + " ";
  return text;
}

}  // namespace cugpt
