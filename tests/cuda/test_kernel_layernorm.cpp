// Layer norm kernels against the CPU twin, forward and backward.
#include <gtest/gtest.h>

#include "cuda/layernorm.h"
#include "kernel_test_support.h"
#include "model/ops/layernorm.h"

namespace llcpress::cuda::test {
namespace {

struct Shape {
  std::int64_t rows;
  int hidden;
};

class CudaLayernorm : public ::testing::TestWithParam<Shape> {};

// Row statistics are sums over `hidden` features; the column sums of the
// backward (d_weight, d_bias) run over `rows`; one sqrt (≤ 1 ulp apart).
double row_tolerance(const Shape& shape) { return nmse_tolerance(Precision::Fp32, shape.hidden, 1); }
double column_tolerance(const Shape& shape) {
  return nmse_tolerance(Precision::Fp32, static_cast<double>(shape.rows), 1);
}

TEST_P(CudaLayernorm, ForwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::size_t elements = static_cast<std::size_t>(shape.rows) * shape.hidden;
  std::vector<float> input = random_normal(elements, 10, 2.0f);  // (rows, hidden)
  for (float& x : input) x += 3.0f;                              // a mean far from 0: the two-pass variance matters
  const std::vector<float> weight = random_normal(shape.hidden, 11);  // (hidden)
  const std::vector<float> bias = random_normal(shape.hidden, 12);    // (hidden)
  std::vector<float> output(elements), mean(shape.rows), rstd(shape.rows);
  ops::layernorm_forward(output.data(), mean.data(), rstd.data(), input.data(), weight.data(), bias.data(), shape.rows,
                         shape.hidden, 1e-5f);
  DeviceVector<float> d_in(input), d_weight(weight), d_bias(bias), d_out(elements), d_mean(shape.rows),
      d_rstd(shape.rows);
  cuda::layernorm_forward(d_out.data(), d_mean.data(), d_rstd.data(), d_in.data(), d_weight.data(), d_bias.data(),
                          shape.rows, shape.hidden, 1e-5f);
  EXPECT_LE(nmse(d_out.download(), output), row_tolerance(shape));
  EXPECT_LE(nmse(d_mean.download(), mean), row_tolerance(shape));
  EXPECT_LE(nmse(d_rstd.download(), rstd), row_tolerance(shape));
}

TEST_P(CudaLayernorm, BackwardMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::size_t elements = static_cast<std::size_t>(shape.rows) * shape.hidden;
  const std::vector<float> input = random_normal(elements, 20, 1.5f);     // (rows, hidden)
  const std::vector<float> d_output = random_normal(elements, 21);        // (rows, hidden)
  const std::vector<float> weight = random_normal(shape.hidden, 22);      // (hidden)
  const std::vector<float> bias = random_normal(shape.hidden, 23);        // (hidden)
  const std::vector<float> d_input_before = random_normal(elements, 24);  // (rows, hidden): d_input accumulates
  std::vector<float> output(elements), mean(shape.rows), rstd(shape.rows);
  ops::layernorm_forward(output.data(), mean.data(), rstd.data(), input.data(), weight.data(), bias.data(), shape.rows,
                         shape.hidden, 1e-5f);
  std::vector<float> d_input = d_input_before, d_weight(shape.hidden), d_bias(shape.hidden);
  ops::layernorm_backward(d_input.data(), d_weight.data(), d_bias.data(), d_output.data(), input.data(), mean.data(),
                          rstd.data(), weight.data(), shape.rows, shape.hidden);

  // The device backward gets the CPU forward's statistics, so it is tested alone.
  DeviceVector<float> dev_input(input), dev_d_output(d_output), dev_weight(weight), dev_mean(mean), dev_rstd(rstd),
      dev_d_input(d_input_before), dev_d_weight(shape.hidden), dev_d_bias(shape.hidden);
  cuda::layernorm_backward(dev_d_input.data(), dev_d_weight.data(), dev_d_bias.data(), dev_d_output.data(),
                           dev_input.data(), dev_mean.data(), dev_rstd.data(), dev_weight.data(), shape.rows,
                           shape.hidden);
  EXPECT_LE(nmse(dev_d_input.download(), d_input), row_tolerance(shape));
  EXPECT_LE(nmse(dev_d_weight.download(), d_weight), column_tolerance(shape));
  EXPECT_LE(nmse(dev_d_bias.download(), d_bias), column_tolerance(shape));
}

// hidden 128 (Pythia-14m), 200 (not a multiple of 32), 768 (Pythia-160m);
// row counts that leave a partial block of 8 rows and a partial stride of 16.
INSTANTIATE_TEST_SUITE_P(Shapes, CudaLayernorm, ::testing::Values(Shape{37, 128}, Shape{21, 200}, Shape{19, 768}),
                         [](const auto& info) {
                           return test_name({{"rows", info.param.rows}, {"hidden", info.param.hidden}});
                         });

}  // namespace
}  // namespace llcpress::cuda::test
