#include "kernels/dtype.h"

#include <cstring>

#include "kernels/error.h"

namespace cugpt {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
    case DType::f64:
      return "f64";
    case DType::i32:
      return "i32";
  }
  return "?";
}

DType parse_dtype(const std::string& name) {
  if (name == "f32" || name == "float32" || name == "fp32" || name == "float") return DType::f32;
  if (name == "f16" || name == "float16" || name == "fp16" || name == "half") return DType::f16;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  if (name == "f64" || name == "float64" || name == "fp64" || name == "double") return DType::f64;
  if (name == "i32" || name == "int32") return DType::i32;
  throw Error("unknown dtype '" + name + "' (expected f32, bf16, f16, f64 or i32)");
}

namespace {
std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float float_of(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
}  // namespace

std::uint16_t float_to_f16_bits(float x) {
  const std::uint32_t u = bits_of(x);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN (keep NaN quiet and non-zero)
    return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): scale so the float adder does the rounding to nearest even.
    const float scaled = float_of(abs) + 0.5f;  // 0.5 = 2^-1, half subnormal ulp is 2^-24
    return static_cast<std::uint16_t>(sign | (bits_of(scaled) - 0x3f000000u));
  }
  const std::uint32_t mant_odd = (abs >> 13) & 1u;
  std::uint32_t r = abs + 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  return static_cast<std::uint16_t>(sign | (r >> 13));
}

float f16_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float mag = static_cast<float>(mant) * 5.9604644775390625e-8f;  // 2^-24
    return float_of(sign | bits_of(mag));
  }
  if (exp == 31) return float_of(sign | 0x7f800000u | (mant << 13));
  return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
}

void store_scalar(DType t, void* dst, double value) {
  switch (t) {
    case DType::f32: {
      const float v = static_cast<float>(value);
      std::memcpy(dst, &v, 4);
      return;
    }
    case DType::f64:
      std::memcpy(dst, &value, 8);
      return;
    case DType::i32: {
      const auto v = static_cast<std::int32_t>(value);
      std::memcpy(dst, &v, 4);
      return;
    }
    case DType::f16: {
      const std::uint16_t v = float_to_f16_bits(static_cast<float>(value));
      std::memcpy(dst, &v, 2);
      return;
    }
    case DType::bf16: {
      const std::uint16_t v = float_to_bf16_bits(static_cast<float>(value));
      std::memcpy(dst, &v, 2);
      return;
    }
  }
}

double load_scalar(DType t, const void* src) {
  switch (t) {
    case DType::f32: {
      float v;
      std::memcpy(&v, src, 4);
      return v;
    }
    case DType::f64: {
      double v;
      std::memcpy(&v, src, 8);
      return v;
    }
    case DType::f16: {
      std::uint16_t v;
      std::memcpy(&v, src, 2);
      return f16_bits_to_float(v);
    }
    case DType::i32: {
      std::int32_t v;
      std::memcpy(&v, src, 4);
      return v;
    }
    case DType::bf16: {
      std::uint16_t v;
      std::memcpy(&v, src, 2);
      return bf16_bits_to_float(v);
    }
  }
  return 0.0;
}

}  // namespace cugpt
