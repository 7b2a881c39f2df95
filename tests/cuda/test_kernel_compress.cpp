// Compression kernels (quantization, Gaussian noise, magnitude pruning)
// against the CPU's compress/ functions.
#include <gtest/gtest.h>

#include <cmath>

#include "compress/prune.h"
#include "compress/quantizer.h"
#include "core/rng.h"
#include "cuda/gaussian_noise.h"
#include "cuda/prune.h"
#include "cuda/quantize.h"
#include "kernel_test_support.h"

namespace llcpress::cuda::test {
namespace {

constexpr std::int64_t kCount = 4099;  // a partial block of 256 and of 4

class CudaQuantize : public ::testing::TestWithParam<int> {};

// Same LevelMap arithmetic (double) on both sides: the quantized values are
// bit-identical, not merely close.
TEST_P(CudaQuantize, MatchesTheCpuQuantizerExactly) {
  LLC_SKIP_WITHOUT_DEVICE();
  const int levels = GetParam();
  const std::vector<float> weights = random_normal(kCount, 90, 0.02f);  // (count)
  const float clip = 0.7f * compress::max_abs(weights);                 // some entries clip
  std::vector<float> expected(kCount);
  compress::quantize_uniform_forward(expected, weights, levels, clip);
  DeviceVector<float> dev_weights(weights), dev_out(kCount);
  cuda::quantize_uniform_forward(dev_out.data(), dev_weights.data(), kCount, levels, clip);
  EXPECT_EQ(dev_out.download(), expected);

  // The squared error is a double sum of kCount terms in two orders: relative
  // difference ≤ kCount · 2⁻⁵³ ≈ 4.6e-13; bound 1e-11.
  const double cpu_error = compress::quantization_squared_error(weights, levels, clip);
  EXPECT_NEAR(cuda::quantization_squared_error(dev_weights.data(), kCount, levels, clip), cpu_error, 1e-11 * cpu_error);
  EXPECT_EQ(cuda::max_abs(dev_weights.data(), kCount), compress::max_abs(weights));
}

// Per-row clips (Backend::quantize_rows_forward, per-channel quantization):
// row r equals the CPU quantizer of that row with clips[r], bit for bit.
TEST(CudaQuantizeRows, EachRowUsesItsClip) {
  LLC_SKIP_WITHOUT_DEVICE();
  constexpr std::int64_t rows = 7, cols = 300;
  const std::vector<float> weights = random_normal(rows * cols, 93, 0.02f);          // (rows, cols)
  std::vector<float> clips(rows);                                                    // (rows)
  for (std::int64_t r = 0; r < rows; ++r) clips[r] = 0.01f * static_cast<float>(r);  // row 0: clip 0 → all 0
  std::vector<float> expected(weights.size());
  for (std::int64_t r = 0; r < rows; ++r)
    compress::quantize_uniform_forward(std::span<float>(expected).subspan(r * cols, cols),
                                       std::span<const float>(weights).subspan(r * cols, cols), 15, clips[r]);
  DeviceVector<float> dev(weights);
  cuda::quantize_rows_forward(dev.data(), dev.data(), clips.data(), rows, cols, 15);
  EXPECT_EQ(dev.download(), expected);
}

INSTANTIATE_TEST_SUITE_P(Levels, CudaQuantize, ::testing::Values(2, 3, 16, 255));

// Element i of Philox (seed, stream) on both sides; the device's sincospif /
// logf may differ from the host libm by a few ulps of each normal (4 ulps,
// K = 1). In the emulated build both are host code and agree exactly.
TEST(CudaGaussianNoise, MatchesTheNoiseMethodLoop) {
  LLC_SKIP_WITHOUT_DEVICE();
  const std::vector<float> reference = random_normal(kCount, 91, 0.05f);  // (count)
  const float sigma = 0.003f;
  const std::uint64_t seed = 17, stream = stream_id(0x6e6f697365ull, 2, 5);
  // compress/methods.cpp NoiseMethod::apply, for one tensor.
  std::vector<float> expected(kCount);
  CounterRng(seed, stream).fill_normal(expected.data(), expected.size());
  std::vector<float> expected_noise = expected;
  for (std::int64_t i = 0; i < kCount; ++i) expected[i] = reference[i] + sigma * expected[i];

  DeviceVector<float> dev(reference);
  cuda::noise_forward(dev.data(), dev.data(), sigma, seed, stream, kCount);
  const std::vector<float> actual = dev.download();
  std::vector<float> actual_noise(kCount);
  for (std::int64_t i = 0; i < kCount; ++i) actual_noise[i] = (actual[i] - reference[i]) / sigma;
  EXPECT_LE(nmse(actual, expected), nmse_tolerance(Precision::Fp32, 1, 4));
  // The noise itself (recovered to within the rounding of w + σξ, ~|w|/σ ulps of ξ).
  EXPECT_LE(nmse(actual_noise, expected_noise), nmse_tolerance(Precision::Fp32, 1, 4 + 0.05 / 0.003));
}

// Magnitudes on a coarse grid, so many entries tie at the threshold: the
// index-order tie rule must match the CPU's exactly.
TEST(CudaPrune, ThresholdApplyMatchesTheCpuOrderWithTies) {
  LLC_SKIP_WITHOUT_DEVICE();
  std::vector<float> weights = random_normal(kCount, 92, 1.0f);  // (count)
  for (float& w : weights) w = std::round(w * 8.0f) / 8.0f;
  const std::vector<std::uint32_t> order = compress::magnitude_order(weights);
  for (std::size_t pruned : {std::size_t{0}, std::size_t{1}, std::size_t{1500}, std::size_t{kCount}}) {
    std::vector<float> expected = weights;
    compress::prune_smallest(expected, order, pruned);
    DeviceVector<float> dev(weights);
    const std::int64_t last_index = pruned > 0 ? static_cast<std::int64_t>(order[pruned - 1]) : -1;
    const float threshold = pruned > 0 ? std::fabs(weights[order[pruned - 1]]) : 0.0f;
    cuda::prune_magnitude_apply(dev.data(), kCount, threshold, last_index);
    const std::vector<float> actual = dev.download();
    EXPECT_EQ(actual, expected) << pruned << " pruned";
    std::size_t zeros = 0, zeros_before = 0;
    for (std::int64_t i = 0; i < kCount; ++i) {
      zeros += actual[i] == 0.0f;
      zeros_before += weights[i] == 0.0f;
    }
    EXPECT_GE(zeros, pruned);  // ties at 0 were zero already
    EXPECT_LE(zeros, pruned + zeros_before);
  }
}

TEST(CudaPrune, ZeroElementsZeroesExactlyTheListedOnes) {
  LLC_SKIP_WITHOUT_DEVICE();
  const std::vector<float> weights = random_normal(kCount, 94, 1.0f);  // (count)
  const std::vector<std::size_t> indices = {0, 5, 4098, 17, 5};        // a repeat is harmless
  std::vector<float> expected = weights;
  for (std::size_t i : indices) expected[i] = 0.0f;
  DeviceVector<float> dev(weights);
  cuda::zero_elements(dev.data(), indices.data(), static_cast<std::int64_t>(indices.size()));
  EXPECT_EQ(dev.download(), expected);
}

}  // namespace
}  // namespace llcpress::cuda::test
