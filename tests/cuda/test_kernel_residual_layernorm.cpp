// The fused residual add + layer norm kernel against its CPU twin (the add,
// then the CPU layer norm), forward and backward.
#include <gtest/gtest.h>

#include "cuda/residual_layernorm.h"
#include "kernel_test_support.h"
#include "model/ops/layernorm.h"

namespace llcpress::cuda::test {
namespace {

struct Shape {
  std::int64_t rows;
  int hidden;
};

class CudaResidualLayernorm : public ::testing::TestWithParam<Shape> {};

// As test_kernel_layernorm.cpp: row statistics are sums over `hidden`
// features, the backward's d_weight/d_bias sums over `rows`; one sqrt (≤ 1
// ulp apart). The add itself is one correctly rounded operation on both
// sides: bit-identical.
double row_tolerance(const Shape& shape) { return nmse_tolerance(Precision::Fp32, shape.hidden, 1); }
double column_tolerance(const Shape& shape) {
  return nmse_tolerance(Precision::Fp32, static_cast<double>(shape.rows), 1);
}

TEST_P(CudaResidualLayernorm, ForwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::size_t elements = static_cast<std::size_t>(shape.rows) * shape.hidden;
  std::vector<float> input = random_normal(elements, 30, 2.0f);  // (rows, hidden)
  for (float& x : input) x += 3.0f;                              // a mean far from 0: the two-pass variance matters
  const std::vector<float> residual = random_normal(elements, 31, 0.5f);  // (rows, hidden)
  const std::vector<float> weight = random_normal(shape.hidden, 32);      // (hidden)
  const std::vector<float> bias = random_normal(shape.hidden, 33);        // (hidden)
  std::vector<float> sum(elements), output(elements), mean(shape.rows), rstd(shape.rows);
  for (std::size_t i = 0; i < elements; ++i) sum[i] = input[i] + residual[i];
  ops::layernorm_forward(output.data(), mean.data(), rstd.data(), sum.data(), weight.data(), bias.data(), shape.rows,
                         shape.hidden, 1e-5f);

  DeviceVector<float> dev_input(input), dev_residual(residual), dev_weight(weight), dev_bias(bias), dev_sum(elements),
      dev_output(elements), dev_mean(shape.rows), dev_rstd(shape.rows);
  cuda::residual_layernorm_forward(dev_sum.data(), dev_output.data(), dev_mean.data(), dev_rstd.data(),
                                   dev_input.data(), dev_residual.data(), dev_weight.data(), dev_bias.data(),
                                   shape.rows, shape.hidden, 1e-5f);
  EXPECT_EQ(dev_sum.download(), sum);
  EXPECT_LE(nmse(dev_output.download(), output), row_tolerance(shape));
  EXPECT_LE(nmse(dev_mean.download(), mean), row_tolerance(shape));
  EXPECT_LE(nmse(dev_rstd.download(), rstd), row_tolerance(shape));

  // In place (sum aliasing input: the residual stream updated where it lies).
  cuda::residual_layernorm_forward(dev_input.data(), dev_output.data(), dev_mean.data(), dev_rstd.data(),
                                   dev_input.data(), dev_residual.data(), dev_weight.data(), dev_bias.data(),
                                   shape.rows, shape.hidden, 1e-5f);
  EXPECT_EQ(dev_input.download(), sum);
  EXPECT_LE(nmse(dev_output.download(), output), row_tolerance(shape));
}

TEST_P(CudaResidualLayernorm, BackwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::size_t elements = static_cast<std::size_t>(shape.rows) * shape.hidden;
  const std::vector<float> sum = random_normal(elements, 40, 1.5f);     // (rows, hidden)
  const std::vector<float> d_output = random_normal(elements, 41);      // (rows, hidden)
  const std::vector<float> weight = random_normal(shape.hidden, 42);    // (hidden)
  const std::vector<float> bias = random_normal(shape.hidden, 43);      // (hidden)
  const std::vector<float> d_sum_before = random_normal(elements, 44);  // (rows, hidden): d_sum accumulates
  std::vector<float> output(elements), mean(shape.rows), rstd(shape.rows);
  ops::layernorm_forward(output.data(), mean.data(), rstd.data(), sum.data(), weight.data(), bias.data(), shape.rows,
                         shape.hidden, 1e-5f);
  std::vector<float> d_sum = d_sum_before, d_weight(shape.hidden), d_bias(shape.hidden);
  ops::layernorm_backward(d_sum.data(), d_weight.data(), d_bias.data(), d_output.data(), sum.data(), mean.data(),
                          rstd.data(), weight.data(), shape.rows, shape.hidden);

  DeviceVector<float> dev_sum(sum), dev_d_output(d_output), dev_weight(weight), dev_mean(mean), dev_rstd(rstd),
      dev_d_sum(d_sum_before), dev_d_weight(shape.hidden), dev_d_bias(shape.hidden);
  cuda::residual_layernorm_backward(dev_d_sum.data(), dev_d_weight.data(), dev_d_bias.data(), dev_d_output.data(),
                                    dev_sum.data(), dev_mean.data(), dev_rstd.data(), dev_weight.data(), shape.rows,
                                    shape.hidden);
  EXPECT_LE(nmse(dev_d_sum.download(), d_sum), row_tolerance(shape));
  EXPECT_LE(nmse(dev_d_weight.download(), d_weight), column_tolerance(shape));
  EXPECT_LE(nmse(dev_d_bias.download(), d_bias), column_tolerance(shape));
}

// hidden 128 (Pythia-14m), 200 (not a multiple of 32), 768 (Pythia-160m);
// row counts that leave a partial block of 8 rows.
INSTANTIATE_TEST_SUITE_P(Shapes, CudaResidualLayernorm,
                         ::testing::Values(Shape{37, 128}, Shape{21, 200}, Shape{19, 768}), [](const auto& info) {
                           return test_name({{"rows", info.param.rows}, {"hidden", info.param.hidden}});
                         });

}  // namespace
}  // namespace llcpress::cuda::test
