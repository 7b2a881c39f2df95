// GELU kernels (exact and tanh) against the CPU twin, forward and backward.
#include <gtest/gtest.h>

#include "cuda/gelu.h"
#include "kernel_test_support.h"
#include "model/ops/gelu.h"

namespace llcpress::cuda::test {
namespace {

// 10007 elements: not a multiple of the block size, so the tail is covered.
constexpr std::int64_t kCount = 10007;

// One elementwise evaluation (K = 1) whose functions (erf or tanh, exp) differ
// by at most a few ulps between the device/host libm and Eigen's vectorised
// versions: 4 ulps, squared into the nmse bound (kernel_test_support.h).
const double kGeluTolerance = nmse_tolerance(Precision::Fp32, 1, 4);

class CudaGelu : public ::testing::TestWithParam<ops::GeluKind> {};

TEST_P(CudaGelu, ForwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const std::vector<float> input = random_normal(kCount, 1, 3.0f);  // (count)
  std::vector<float> expected(kCount);                              // (count)
  ops::gelu_forward(expected.data(), input.data(), kCount, GetParam());
  DeviceVector<float> device_input(input), device_output(kCount);
  cuda::gelu_forward(device_output.data(), device_input.data(), kCount, GetParam());
  const double error = nmse(device_output.download(), expected);
  EXPECT_LE(error, kGeluTolerance);
}

TEST_P(CudaGelu, BackwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const std::vector<float> input = random_normal(kCount, 2, 3.0f);     // (count)
  const std::vector<float> d_output = random_normal(kCount, 3, 1.0f);  // (count)
  std::vector<float> expected(kCount);                                 // (count)
  ops::gelu_backward(expected.data(), d_output.data(), input.data(), kCount, GetParam());
  DeviceVector<float> device_input(input), device_d_output(d_output), device_d_input(kCount);
  cuda::gelu_backward(device_d_input.data(), device_d_output.data(), device_input.data(), kCount, GetParam());
  EXPECT_LE(nmse(device_d_input.download(), expected), kGeluTolerance);
  // In place (d_input aliasing d_output), as the model calls it.
  cuda::gelu_backward(device_d_output.data(), device_d_output.data(), device_input.data(), kCount, GetParam());
  EXPECT_LE(nmse(device_d_output.download(), expected), kGeluTolerance);
}

INSTANTIATE_TEST_SUITE_P(Kinds, CudaGelu, ::testing::Values(ops::GeluKind::Erf, ops::GeluKind::Tanh),
                         [](const auto& info) { return info.param == ops::GeluKind::Erf ? "Erf" : "Tanh"; });

}  // namespace
}  // namespace llcpress::cuda::test
