// Cross-entropy kernels against the CPU twin, forward and backward.
#include <gtest/gtest.h>

#include "cuda/cross_entropy.h"
#include "kernel_test_support.h"
#include "model/ops/cross_entropy.h"

namespace llcpress::cuda::test {
namespace {

struct Shape {
  std::int64_t rows;
  int vocab;
};

class CudaCrossEntropy : public ::testing::TestWithParam<Shape> {};

std::vector<std::int32_t> targets_for(const Shape& shape) {
  std::vector<std::int32_t> targets(shape.rows);  // (rows)
  const std::vector<float> uniform = [&] {
    std::vector<float> u(shape.rows);
    CounterRng(7, 7).fill_uniform(u.data(), u.size());
    return u;
  }();
  for (std::int64_t r = 0; r < shape.rows; ++r)
    targets[r] = std::min(shape.vocab - 1, static_cast<int>(uniform[r] * static_cast<float>(shape.vocab)));
  targets[0] = 0;  // first and last vocabulary entries as targets
  targets[shape.rows - 1] = shape.vocab - 1;
  return targets;
}

std::vector<float> logits_for(const Shape& shape) {
  // Scale 4 plus a few large entries: the online max must rescale its sums.
  std::vector<float> logits = random_normal(static_cast<std::size_t>(shape.rows) * shape.vocab, 30, 4.0f);
  for (std::int64_t r = 0; r < shape.rows; ++r) logits[r * shape.vocab + (r * 131) % shape.vocab] += 40.0f;
  return logits;
}

// The log-sum-exp is a sum of `vocab` exponentials (≤ 2 ulp each, both sides).
double lse_tolerance(const Shape& shape) { return nmse_tolerance(Precision::Fp32, shape.vocab, 2); }

TEST_P(CudaCrossEntropy, ForwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::vector<float> logits = logits_for(shape);           // (rows, vocab)
  const std::vector<std::int32_t> targets = targets_for(shape);  // (rows)
  std::vector<float> losses(shape.rows), lse(shape.rows);
  const double mean =
      ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), shape.rows, shape.vocab);
  DeviceVector<float> dev_logits(logits), dev_losses(shape.rows), dev_lse(shape.rows);
  DeviceVector<std::int32_t> dev_targets(targets);
  const double device_mean = cuda::cross_entropy_forward(dev_losses.data(), dev_lse.data(), dev_logits.data(),
                                                         dev_targets.data(), shape.rows, shape.vocab);
  EXPECT_LE(nmse(dev_lse.download(), lse), lse_tolerance(shape));
  EXPECT_LE(nmse(dev_losses.download(), losses), lse_tolerance(shape));
  // The mean of `rows` losses, each within the bound above (relative rms).
  EXPECT_NEAR(device_mean, mean, std::sqrt(lse_tolerance(shape)) * std::abs(mean));
}

TEST_P(CudaCrossEntropy, BackwardMatchesCpuAlsoInPlace) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::vector<float> logits = logits_for(shape);           // (rows, vocab)
  const std::vector<std::int32_t> targets = targets_for(shape);  // (rows)
  std::vector<float> losses(shape.rows), lse(shape.rows);
  ops::cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), shape.rows, shape.vocab);
  const float d_loss = 1.0f / static_cast<float>(shape.rows);
  std::vector<float> d_logits(logits.size());
  ops::cross_entropy_backward(d_logits.data(), logits.data(), lse.data(), targets.data(), d_loss, shape.rows,
                              shape.vocab);
  // One exp per entry (2 ulp), of x − lse where lse itself is the CPU's.
  const double tolerance = nmse_tolerance(Precision::Fp32, 1, 2);
  DeviceVector<float> dev_logits(logits), dev_lse(lse), dev_d_logits(logits.size());
  DeviceVector<std::int32_t> dev_targets(targets);
  cuda::cross_entropy_backward(dev_d_logits.data(), dev_logits.data(), dev_lse.data(), dev_targets.data(), d_loss,
                               shape.rows, shape.vocab);
  EXPECT_LE(nmse(dev_d_logits.download(), d_logits), tolerance);
  cuda::cross_entropy_backward(dev_logits.data(), dev_logits.data(), dev_lse.data(), dev_targets.data(), d_loss,
                               shape.rows, shape.vocab);
  EXPECT_LE(nmse(dev_logits.download(), d_logits), tolerance);
}

// vocab 3001: three full column blocks of 1024 and a partial one, and a
// partial last pass of the 256-thread strides; 50304: Pythia's vocabulary.
INSTANTIATE_TEST_SUITE_P(Shapes, CudaCrossEntropy, ::testing::Values(Shape{13, 3001}, Shape{3, 50304}),
                         [](const auto& info) {
                           return test_name({{"rows", info.param.rows}, {"vocab", info.param.vocab}});
                         });

}  // namespace
}  // namespace llcpress::cuda::test
