// The published ceilings (nn/device_peaks.cpp): the RTX 2050's tensor figure follows from its
// unit counts, and each card's figures are matched by name.
#include <gtest/gtest.h>

#include "nn/device_peaks.h"

namespace cugpt {
namespace {

// Consumer Ampere (GA10x, sm_86) runs FP16/BF16 tensor products with FP32 accumulation at half
// the FP16-accumulate rate: 4 tensor cores x 128 FMA x 2 FLOP / 2 = 512 FLOP/clk/SM, twice the
// 128 FP32 lanes' 256. So the tensor peak is twice the FP32 one at the same clock (16 SMs at
// 1.48 GHz: 12.1 TFLOP/s against 6.06), not the 10 TFLOP/s once quoted.
TEST(DevicePeaks, Rtx2050TensorPeakIsTwiceItsF32) {
  const auto p = published_peaks("NVIDIA GeForce RTX 2050");
  ASSERT_TRUE(p.has_value());
  const double sms = 16, ghz = 1.48;
  EXPECT_NEAR(p->tflops_f32, sms * 128 * 2 * ghz / 1e3, 1e-9);
  EXPECT_NEAR(p->tflops_16, sms * 4 * 128 * 2 / 2 * ghz / 1e3, 1e-9);
  EXPECT_NEAR(p->tflops_16, 2 * p->tflops_f32, 1e-9);
  EXPECT_NE(p->source.find("FP32 accumulation"), std::string::npos) << p->source;
  EXPECT_EQ(p->bandwidth_gbs, 112);
}

TEST(DevicePeaks, MatchesByNameFirstEntryWins) {
  EXPECT_EQ(published_peaks("NVIDIA H100 PCIe")->tflops_16, 756);
  EXPECT_EQ(published_peaks("NVIDIA H100 80GB HBM3")->tflops_16, 989);
  EXPECT_FALSE(published_peaks("NVIDIA GeForce RTX 4090").has_value());
}

}  // namespace
}  // namespace cugpt
