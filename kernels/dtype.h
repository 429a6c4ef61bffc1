// Element types. Defined in the bottom layer because every kernel dispatches on it; nn/ and
// models/ use it as is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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
// bf16 inline: the cpu optimizers' element loops (kernels/cpu/adamw.cpp) vectorise through them.
inline std::uint16_t float_to_bf16_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}
inline float bf16_bits_to_float(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// Stores `value` as one element of type t at dst (host memory); reads it back as double.
void store_scalar(DType t, void* dst, double value);
double load_scalar(DType t, const void* src);

}  // namespace cugpt
