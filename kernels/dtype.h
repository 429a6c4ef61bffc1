// Element types. Defined in the bottom layer because every kernel dispatches on it; nn/ and
// models/ use it as is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cugpt {

// i32 holds token ids, positions and masks; it is never a compute dtype.
enum class DType : std::uint8_t { f32, f16, bf16, f64, i32 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f16:
      return 2;
    case DType::bf16:
      return 2;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
  }
  return 0;
}

const char* dtype_name(DType t);
// Accepts the names above plus the usual aliases (float32, fp16, half, bfloat16, double, int32).
// Throws cugpt::Error naming the valid choices on anything else.
DType parse_dtype(const std::string& name);

// Host conversions, round to nearest even, NaN and infinity preserved.
std::uint16_t float_to_f16_bits(float x);
float f16_bits_to_float(std::uint16_t h);
std::uint16_t float_to_bf16_bits(float x);
float bf16_bits_to_float(std::uint16_t b);

// Stores `value` as one element of type t at dst (host memory); reads it back as double.
void store_scalar(DType t, void* dst, double value);
double load_scalar(DType t, const void* src);

}  // namespace cugpt
