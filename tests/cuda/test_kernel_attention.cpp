// The fp32 causal attention kernels against the CPU op, forward and backward.
#include <gtest/gtest.h>

#include "cuda/attention.h"
#include "kernel_test_support.h"
#include "model/ops/attention.h"

namespace llcpress::cuda::test {
namespace {

struct Shape {
  std::int64_t batch;
  int seq_len, heads, head_dim;
};

class CudaAttention : public ::testing::TestWithParam<Shape> {};

// Each output is a softmax-weighted sum over ≤ seq_len keys of dot products
// over head_dim features, with one exp per score (2 ulps): K = head_dim +
// seq_len. The backward adds one more such pass.
double tolerance(const Shape& s) { return nmse_tolerance(Precision::Fp32, 2.0 * (s.head_dim + s.seq_len), 2); }

TEST_P(CudaAttention, ForwardAndBackwardMatchCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape s = GetParam();
  const std::size_t rows = static_cast<std::size_t>(s.batch) * s.seq_len;
  const std::size_t qkv_size = rows * 3 * s.heads * s.head_dim, out_size = rows * s.heads * s.head_dim;
  const std::size_t lse_size = static_cast<std::size_t>(s.batch) * s.heads * s.seq_len;
  const std::vector<float> qkv = random_normal(qkv_size, 80, 1.5f);  // (rows, 3 · heads · head_dim)
  const std::vector<float> d_output = random_normal(out_size, 81);   // (rows, heads · head_dim)

  ops::AttentionWorkspace workspace(s.seq_len, s.head_dim);
  std::vector<float> output(out_size), lse(lse_size), d_qkv(qkv_size);
  ops::attention_forward(output.data(), lse.data(), qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim, workspace);
  ops::attention_backward(d_qkv.data(), d_output.data(), output.data(), lse.data(), qkv.data(), s.batch, s.seq_len,
                          s.heads, s.head_dim, workspace);

  DeviceVector<float> dev_qkv(qkv), dev_output(out_size), dev_lse(lse_size), dev_d_output(d_output),
      dev_d_qkv(qkv_size);
  cuda::attention_forward(dev_output.data(), dev_lse.data(), dev_qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim);
  EXPECT_LE(nmse(dev_output.download(), output), tolerance(s));
  EXPECT_LE(nmse(dev_lse.download(), lse), tolerance(s));
  // The backward from the CPU forward's output and lse: tested on its own.
  DeviceVector<float> cpu_output(output), cpu_lse(lse);
  cuda::attention_backward(dev_d_qkv.data(), dev_d_output.data(), cpu_output.data(), cpu_lse.data(), dev_qkv.data(),
                           s.batch, s.seq_len, s.heads, s.head_dim);
  EXPECT_LE(nmse(dev_d_qkv.download(), d_qkv), tolerance(s));
}

// seq_len 70 and 40: full tiles of 32 plus a partial one (the online softmax
// rescales when a later tile holds a larger score); head
// dimensions 16 (Pythia-14m is 32), 64 (Pythia-160m/410m) and 80 (Pythia-2.8b,
// not a multiple of 32: lanes with a missing feature).
INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaAttention, ::testing::Values(Shape{1, 70, 1, 16}, Shape{1, 40, 1, 64}, Shape{1, 9, 1, 80}),
    [](const auto& info) {
      return test_name(
          {{"b", info.param.batch}, {"t", info.param.seq_len}, {"h", info.param.heads}, {"d", info.param.head_dim}});
    });

TEST(CudaAttention, RefusesHeadDimensionsBeyondTheKernel) {
  LLC_SKIP_WITHOUT_DEVICE();
  EXPECT_THROW(cuda::attention_forward(nullptr, nullptr, nullptr, 1, 1, 1, 512), BackendError);
}

}  // namespace
}  // namespace llcpress::cuda::test
