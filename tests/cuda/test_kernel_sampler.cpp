// The fused SGLD / RMSprop-SGLD step (cuda::sampler_step) against the CPU
// backend's (backend::cpu_sampler_step): 20-step chains with one seed, on a
// flat buffer whose sampled ranges start and end inside Philox blocks and
// cross chunk boundaries, with the diagnostic and MALA sums at every step. The
// gradient is that of a fixed quadratic, evaluated on the host at each chain's
// own parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu_normals.h"
#include "backend/cpu_sampler_step.h"
#include "backend/elementwise.h"
#include "core/rng.h"
#include "cuda/sampler_step.h"
#include "kernel_test_support.h"

namespace llcpress::cuda::test {
namespace {

using backend::SamplerChunk;
using backend::SamplerStepScalars;
using backend::StepSums;

constexpr std::size_t kTotal = 40000;
constexpr int kSteps = 20;
constexpr std::uint64_t kSeed = 0x5eed;
// The CPU sampler's chunk size (slt/sampler.cpp): chunks end at its multiples.
constexpr std::size_t kChunkElements = 1u << 14;

// Both sides draw the noise from the same Philox words through the same
// polynomials; what may differ is how each compiler contracts a·b + c into an
// FMA, a few float ulps of a normal (kNoiseUlps).
constexpr double kNoiseUlps = 4;

// The sampled ranges [begin, end) cut into the CPU sampler's chunks.
std::vector<SamplerChunk> chunks_of(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  std::vector<SamplerChunk> chunks;
  std::size_t compact = 0;
  for (auto [range_begin, range_end] : ranges) {
    for (std::size_t begin = range_begin; begin < range_end;) {
      const std::size_t end = std::min(range_end, (begin / kChunkElements + 1) * kChunkElements);
      chunks.push_back({begin, end, compact + (begin - range_begin)});
      begin = end;
    }
    compact += range_end - range_begin;
  }
  return chunks;
}

TEST(CudaBlockNormals, SharedTransformMatchesTheCpuNoise) {
  // The CPU backend's vectorised fill and the shared per-block function the
  // kernel calls: the same numbers up to FMA contraction.
  for (std::uint64_t stream : {std::uint64_t{1}, stream_id(3, 4, 5)}) {
    std::vector<float> expected(4096);
    backend::fill_block_normals(kSeed, stream, 1000, expected.size() / 4, expected.data());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const float actual = backend::block_normal(kSeed, stream, 4000 + i);
      const float want = expected[i];
      const float ulp = std::nextafter(std::abs(want), INFINITY) - std::abs(want);
      EXPECT_LE(std::abs(actual - want), kNoiseUlps * std::max(ulp, 1e-7f)) << "element " << i;
    }
  }
}

struct ChainCase {
  const char* name;
  bool rmsprop;
  double bounding_box;
};

class CudaSamplerChain : public ::testing::TestWithParam<ChainCase> {};

// ∇ of ½ Σ c_i (w_i − m_i)², the "loss" of the chain.
std::vector<float> quadratic_gradient(const std::vector<float>& w, const std::vector<float>& curvature,
                                      const std::vector<float>& minimum) {
  std::vector<float> g(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) g[i] = curvature[i] * (w[i] - minimum[i]);
  return g;
}

// Relative agreement of two sums of non-negative terms. The device adds ≤ 64
// float terms per thread before going to double, the CPU ≤ 128 per lane: each
// partial is within (128 + 4)·2⁻²⁴ ≈ 7.9e-6 of exact (slt/sampler.cpp). The
// chains' parameters themselves drift apart by a few ulps per step (the
// noise), which enters the sums through differences w − w* that are ~10×
// smaller than w here: 20 steps × 4 ulps × 10 ≈ 5e-5 relative. Bound: 1e-4.
constexpr double kSumRelativeTolerance = 1e-4;

void expect_sums_near(const StepSums& device, const StepSums& cpu, double dot_magnitude_open,
                      double dot_magnitude_close, int step) {
  auto near = [&](double a, double b, const char* what) {
    EXPECT_NEAR(a, b, kSumRelativeTolerance * std::abs(b) + 1e-30) << what << " at step " << step;
  };
  near(device.distance_sq, cpu.distance_sq, "distance_sq");
  near(device.weight_sq, cpu.weight_sq, "weight_sq");
  near(device.gradient_sq, cpu.gradient_sq, "gradient_sq");
  near(device.drift_gradient_sq, cpu.drift_gradient_sq, "drift_gradient_sq");
  near(device.drift_localization_sq, cpu.drift_localization_sq, "drift_localization_sq");
  near(device.drift_weight_decay_sq, cpu.drift_weight_decay_sq, "drift_weight_decay_sq");
  near(device.noise_sq, cpu.noise_sq, "noise_sq");
  near(device.distance_after_sq, cpu.distance_after_sq, "distance_after_sq");
  near(device.open_drift_sq_preconditioned, cpu.open_drift_sq_preconditioned, "open_drift_sq_preconditioned");
  near(device.close_drift_sq_preconditioned, cpu.close_drift_sq_preconditioned, "close_drift_sq_preconditioned");
  // Signed sums: relative to the sum of the terms' magnitudes (computed by the test).
  EXPECT_NEAR(device.open_displacement_dot_drift, cpu.open_displacement_dot_drift,
              kSumRelativeTolerance * dot_magnitude_open)
      << "open_displacement_dot_drift at step " << step;
  EXPECT_NEAR(device.close_displacement_dot_drift, cpu.close_displacement_dot_drift,
              kSumRelativeTolerance * dot_magnitude_close + 1e-30)
      << "close_displacement_dot_drift at step " << step;
  EXPECT_EQ(device.nonfinite, cpu.nonfinite) << "step " << step;
  // A weight landing within an ulp of the box edge may clamp on one side only.
  EXPECT_LE(std::abs(static_cast<double>(device.clamped) - static_cast<double>(cpu.clamped)),
            std::max(1.0, 1e-3 * static_cast<double>(cpu.clamped)))
      << "clamped at step " << step;
}

// The float scalars of a step, as slt/sampler.cpp converts its config.
SamplerStepScalars step_scalars(bool rmsprop, double bounding_box) {
  const double epsilon = 1e-3;
  SamplerStepScalars s;
  s.half_epsilon = static_cast<float>(0.5 * epsilon);
  s.sqrt_epsilon = static_cast<float>(std::sqrt(epsilon));
  s.nbeta = 30.0f;
  s.localization = 50.0f;
  s.weight_decay = 0.01f;
  s.noise_scale = 1.0f;
  s.alpha = 0.99f;
  s.one_minus_alpha = static_cast<float>(1.0 - 0.99);
  s.rmsprop_eps = 0.1f;
  s.box = bounding_box > 0 ? static_cast<float>(bounding_box) : std::numeric_limits<float>::infinity();
  s.rmsprop = rmsprop;
  s.sums = true;
  s.seed = kSeed;
  return s;
}

TEST_P(CudaSamplerChain, TwentyStepsMatchTheCpuChain) {
  LLC_SKIP_WITHOUT_DEVICE();
  const ChainCase chain = GetParam();
  // Ranges that start/end inside Philox blocks (3, 17003, 20001, 39999) and
  // cross the chunk boundaries at 16384 and 32768.
  const std::vector<std::pair<std::size_t, std::size_t>> ranges = {{3, 17003}, {20001, 39999}};
  const std::vector<SamplerChunk> chunks = chunks_of(ranges);
  const std::size_t sampled = (17003 - 3) + (39999 - 20001);

  const std::vector<float> start = random_normal(kTotal, 40, 0.5f);  // (total), also w*
  std::vector<float> curvature = random_normal(kTotal, 41, 1.0f);    // (total)
  for (float& c : curvature) c = 0.5f + std::abs(c);
  const std::vector<float> minimum = random_normal(kTotal, 42, 0.5f);  // (total)

  std::vector<float> cpu_w = start, cpu_v(sampled, 0.0f), cpu_d(sampled, 0.0f);
  DeviceVector<float> device_w(start), device_g(kTotal), device_center(start), device_v(cpu_v), device_d(cpu_d);

  std::vector<float> previous_step(kTotal, 0.0f);  // (total) δ of the last step, for the closing magnitude
  for (int step = 0; step <= kSteps; ++step) {
    SamplerStepScalars s = step_scalars(chain.rmsprop, chain.bounding_box);
    s.stream = stream_id(7, static_cast<std::uint64_t>(step));
    s.close_mala = step > 0;
    // The last call only closes the 20th transition and changes nothing.
    s.apply = step < kSteps;
    s.open_mala = s.apply;

    const std::vector<float> w_before = cpu_w;
    const std::vector<float> cpu_g = quadratic_gradient(cpu_w, curvature, minimum);
    const StepSums cpu_sums = backend::cpu_sampler_step(cpu_w.data(), chain.rmsprop ? cpu_v.data() : nullptr,
                                                        cpu_d.data(), cpu_g.data(), start.data(), chunks, s);
    device_g.upload(quadratic_gradient(device_w.download(), curvature, minimum));
    const StepSums device_sums =
        cuda::sampler_step(device_w.data(), chain.rmsprop ? device_v.data() : nullptr, device_d.data(), device_g.data(),
                           device_center.data(), chunks.data(), chunks.size(), s);

    // Σ|δ_i·drift_i| for the signed sums' tolerance (drift in double).
    double open_magnitude = 0.0, close_magnitude = 0.0;
    for (auto [begin, end] : ranges)
      for (std::size_t i = begin; i < end; ++i) {
        const double drift =
            s.nbeta * cpu_g[i] + s.localization * (w_before[i] - start[i]) + s.weight_decay * w_before[i];
        open_magnitude += std::abs((static_cast<double>(cpu_w[i]) - w_before[i]) * drift);
        close_magnitude += std::abs(static_cast<double>(previous_step[i]) * drift);
        previous_step[i] = cpu_w[i] - w_before[i];
      }
    expect_sums_near(device_sums, cpu_sums, open_magnitude, close_magnitude, step);
    if (HasFailure()) break;  // one step's report is enough
  }
  // Each step adds a few ulps of noise difference (kNoiseUlps) to every
  // weight; over 20 steps that is at most a random walk of √20 such steps.
  const std::vector<float> device_final = device_w.download();
  EXPECT_LE(nmse(device_final, cpu_w), nmse_tolerance(Precision::Fp32, kSteps, kNoiseUlps));
  if (chain.rmsprop) {
    EXPECT_LE(nmse(device_v.download(), cpu_v), nmse_tolerance(Precision::Fp32, kSteps, kNoiseUlps));
  }
  // The chains moved (the comparison is not of two untouched buffers) ...
  EXPECT_GT(nmse(cpu_w, start), 1e-4);
  // ... and unsampled elements kept their value bit for bit.
  for (std::size_t i : {std::size_t{0}, std::size_t{2}, std::size_t{17003}, std::size_t{20000}, kTotal - 1})
    EXPECT_EQ(device_final[i], start[i]) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(Kinds, CudaSamplerChain,
                         ::testing::Values(ChainCase{"Sgld", false, 0.0}, ChainCase{"RmspropSgldWithBox", true, 0.02}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace llcpress::cuda::test
