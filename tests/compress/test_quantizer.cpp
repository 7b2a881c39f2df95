// The uniform quantizer against closed forms: its level set, the worst-case
// error step/2, idempotence, symmetry, and the MSE-optimal clip for Gaussian
// weights against Max's (1960) optimal uniform quantizer step sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <set>
#include <vector>

#include "compress/quantizer.h"
#include "core/rng.h"

namespace llcpress::compress {
namespace {

// The quantizer computes indices and levels in double and rounds each level
// to float once, so levels are exact to half an ulp of m (1 ulp allowed) and
// the error bound step/2 holds up to that same rounding.
constexpr float kLevelUlps = 1.0f;
constexpr float kBoundUlps = 1.0f;

std::vector<float> normals(std::size_t count, std::uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(count);
  CounterRng(3, stream).fill_normal(values.data(), count, 0, scale);
  return values;
}

TEST(UniformQuantizer, ProducesExactlyTheLevelsOnTheInterval) {
  for (int levels : {2, 3, 4, 5, 16, 17, 255, 256}) {
    for (float clip : {0.25f, 1.0f, 3.7f}) {
      // A dense sweep over [-1.5m, 1.5m] visits every level.
      std::vector<float> inputs(200001);
      for (std::size_t i = 0; i < inputs.size(); ++i)
        inputs[i] = clip * (-1.5f + 3.0f * static_cast<float>(i) / static_cast<float>(inputs.size() - 1));
      std::vector<float> outputs(inputs.size());
      quantize_uniform_forward(outputs, inputs, levels, clip);
      std::set<float> distinct(outputs.begin(), outputs.end());
      EXPECT_EQ(distinct.size(), static_cast<std::size_t>(levels)) << levels << " levels, clip " << clip;
      // Each output is one of -m + 2mk/(n-1), computed here in double.
      const float tolerance = kLevelUlps * FLT_EPSILON * clip;
      for (float value : distinct) {
        double k = (static_cast<double>(value) + clip) * (levels - 1) / (2.0 * clip);
        double nearest = -clip + 2.0 * clip * std::round(k) / (levels - 1);
        EXPECT_NEAR(value, nearest, tolerance) << levels << " levels";
        EXPECT_GE(std::round(k), 0);
        EXPECT_LE(std::round(k), levels - 1);
      }
      EXPECT_FLOAT_EQ(*distinct.begin(), -clip);
      EXPECT_FLOAT_EQ(*distinct.rbegin(), clip);
    }
  }
}

TEST(UniformQuantizer, ErrorIsAtMostHalfAStepInsideAndClipsOutside) {
  auto weights = normals(100000, 1);
  for (int levels : {2, 3, 7, 8, 64, 1000}) {
    const float clip = 1.3f;
    std::vector<float> quantized(weights.size());
    quantize_uniform_forward(quantized, weights, levels, clip);
    const double step = 2.0 * clip / (levels - 1);
    const double slack = kBoundUlps * FLT_EPSILON * clip;
    double largest_inside = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (std::fabs(weights[i]) <= clip) {
        largest_inside = std::max(largest_inside, std::fabs(double(weights[i]) - quantized[i]));
      } else {
        EXPECT_EQ(quantized[i], std::copysign(quantized[i] == 0 ? 0.0f : std::fabs(quantized[i]), weights[i]));
        EXPECT_NEAR(std::fabs(quantized[i]), clip, kLevelUlps * FLT_EPSILON * clip);
      }
    }
    EXPECT_LE(largest_inside, step / 2 + slack) << levels << " levels";
    // The bound is attained up to sampling: 100k normals fill each cell densely.
    EXPECT_GE(largest_inside, 0.9 * step / 2) << levels << " levels";
  }
}

TEST(UniformQuantizer, PicksTheNearestLevel) {
  auto weights = normals(20000, 2);
  for (int levels : {3, 4, 9, 10}) {
    const float clip = 2.0f;
    std::vector<float> quantized(weights.size());
    quantize_uniform_forward(quantized, weights, levels, clip);
    std::vector<double> grid(levels);
    for (int k = 0; k < levels; ++k) grid[k] = -clip + 2.0 * clip * k / (levels - 1);
    const double half_step = clip / (levels - 1.0);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      double best = grid[0];
      for (double level : grid)
        if (std::fabs(level - weights[i]) < std::fabs(best - weights[i])) best = level;
      // Skip inputs within rounding of a decision boundary (either level is right).
      double to_boundary = std::fabs(std::fmod(std::fabs(weights[i] + clip), 2 * half_step) - half_step);
      if (to_boundary < 1e-5) continue;
      EXPECT_NEAR(quantized[i], best, kLevelUlps * FLT_EPSILON * clip) << weights[i];
    }
  }
}

TEST(UniformQuantizer, IsIdempotentAndOdd) {
  auto weights = normals(50000, 3, 0.05f);
  for (int levels : {2, 3, 4, 15, 16, 4096}) {
    const float clip = 0.09f;
    std::vector<float> once(weights.size()), twice(weights.size()), negated(weights.size()), of_negated(weights.size());
    quantize_uniform_forward(once, weights, levels, clip);
    quantize_uniform_forward(twice, once, levels, clip);
    for (std::size_t i = 0; i < weights.size(); ++i) negated[i] = -weights[i];
    quantize_uniform_forward(of_negated, negated, levels, clip);
    EXPECT_EQ(once, twice) << levels << " levels: quantizing twice changed a value";
    // Q(-w) = -Q(w) except for a value exactly on a decision boundary
    // (floor(x + 0.5) rounds both signs of a tie up), which random floats
    // do not hit.
    EXPECT_EQ(of_negated.size(), once.size());
    for (std::size_t i = 0; i < weights.size(); ++i) ASSERT_EQ(of_negated[i], -once[i]) << levels << " levels, " << i;
  }
}

TEST(UniformQuantizer, ZeroClipMapsEverythingToZero) {
  std::vector<float> weights = {1.0f, -2.0f, 0.0f}, out(3);
  quantize_uniform_forward(out, weights, 8, 0.0f);
  for (float v : out) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(mse_optimal_clip(std::vector<float>(5, 0.0f), 4), 0.0f);
}

// Max (1960), Table for the Gaussian: step sizes of the MSE-optimal uniform
// quantizer of N(0, 1) with N levels; the clip is (N-1)/2 · step.
struct MaxEntry {
  int levels;
  double step;
};
constexpr MaxEntry kMaxTable[] = {{2, 1.596}, {4, 0.9957}, {8, 0.5860}, {16, 0.3352}};

TEST(MseOptimalClip, MatchesMaxsGaussianQuantizer) {
  // 2^17 samples: the empirical optimum moves by about 1 % between draws
  // (the MSE is flat near the optimum), hence a 3 % tolerance on the clip.
  constexpr double kClipTolerance = 0.03;
  auto weights = normals(1u << 17, 4);
  for (const MaxEntry& entry : kMaxTable) {
    const float clip = mse_optimal_clip(weights, entry.levels);
    const double expected = 0.5 * (entry.levels - 1) * entry.step;
    EXPECT_NEAR(clip / expected, 1.0, kClipTolerance) << entry.levels << " levels";
    // It minimises the empirical error: not worse than at Max's clip, nor
    // than at any of 100 clips on a dense scan (up to the golden-section
    // precision, 1e-5 of a grid cell, far below 1e-4 relative error).
    const double found = quantization_squared_error(weights, entry.levels, clip);
    EXPECT_LE(found, quantization_squared_error(weights, entry.levels, static_cast<float>(expected)) * (1 + 1e-4));
    const float largest = max_abs(weights);
    for (int j = 1; j <= 100; ++j)
      EXPECT_LE(found, quantization_squared_error(weights, entry.levels, largest * j / 100.0f) * (1 + 1e-4));
  }
}

TEST(Clips, PerChannelTakesEachRowsMaximumAndScalingIsCapped) {
  // [3, 4]: row maxima 4, 0.5, 7.
  std::vector<float> tensor = {1, -4, 2, 3, 0.5f, 0.1f, -0.2f, 0.3f, 7, 0, 0, -1};
  auto per_row = choose_clips(tensor, 3, 4, true, 5, ClipRule::MaxAbs);
  ASSERT_EQ(per_row.size(), 3u);
  EXPECT_EQ(per_row[0], 4.0f);
  EXPECT_EQ(per_row[1], 0.5f);
  EXPECT_EQ(per_row[2], 7.0f);
  auto whole = choose_clips(tensor, 3, 4, false, 5, ClipRule::MaxAbs);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0], 7.0f);
  // A scale above 1 cannot push the clip past the row's largest entry.
  std::vector<float> capped(tensor.size()), plain(tensor.size());
  quantize_tensor_forward(capped, tensor, 3, 4, 5, per_row, 10.0);
  quantize_tensor_forward(plain, tensor, 3, 4, 5, per_row, 1.0);
  EXPECT_EQ(capped, plain);
  // Row 1 keeps its own scale: levels of 0.5/2 = 0.25 apart.
  EXPECT_EQ(plain[4], 0.5f);
  EXPECT_EQ(plain[5], 0.0f);
  EXPECT_EQ(plain[6], -0.25f);
  EXPECT_EQ(plain[7], 0.25f);
}

}  // namespace
}  // namespace llcpress::compress
