// The fused (flash) causal attention kernels against the CPU op, forward and
// backward; on a GPU also against the fp32 parity kernel at Pythia shapes.
#include <gtest/gtest.h>

#include "cuda/attention.h"
#include "cuda/flash_attention.h"
#include "kernel_test_support.h"
#include "model/ops/attention.h"

namespace llcpress::cuda::test {
namespace {

struct Shape {
  std::int64_t batch;
  int seq_len, heads, head_dim;
};

std::string shape_name(const Shape& s) {
  return test_name({{"b", s.batch}, {"t", s.seq_len}, {"h", s.heads}, {"d", s.head_dim}});
}

// As the parity kernel's test (test_kernel_attention.cpp): each output is a
// softmax-weighted sum over ≤ seq_len keys of dot products over head_dim
// features with one exp per score (2 ulps), K = head_dim + seq_len, doubled
// for the backward's second pass. The fused kernels sum in other orders than
// the CPU (tile by tile, rescaled), which this √K-per-sum bound covers.
double tolerance(const Shape& s) { return nmse_tolerance(Precision::Fp32, 2.0 * (s.head_dim + s.seq_len), 2); }

struct Sizes {
  std::size_t qkv, out, lse;
};
Sizes sizes_of(const Shape& s) {
  const std::size_t rows = static_cast<std::size_t>(s.batch) * s.seq_len;
  return {rows * 3 * s.heads * s.head_dim, rows * s.heads * s.head_dim,
          static_cast<std::size_t>(s.batch) * s.heads * s.seq_len};
}

class CudaFlashAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaFlashAttention, ForwardAndBackwardMatchCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape s = GetParam();
  const Sizes n = sizes_of(s);
  const std::vector<float> qkv = random_normal(n.qkv, 90, 1.5f);  // (rows, 3 · heads · head_dim)
  const std::vector<float> d_output = random_normal(n.out, 91);   // (rows, heads · head_dim)

  ops::AttentionWorkspace workspace(s.seq_len, s.head_dim);
  std::vector<float> output(n.out), lse(n.lse), d_qkv(n.qkv);
  ops::attention_forward(output.data(), lse.data(), qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim, workspace);
  ops::attention_backward(d_qkv.data(), d_output.data(), output.data(), lse.data(), qkv.data(), s.batch, s.seq_len,
                          s.heads, s.head_dim, workspace);

  DeviceVector<float> dev_qkv(qkv), dev_output(n.out), dev_lse(n.lse), dev_d_output(d_output), dev_d_qkv(n.qkv);
  cuda::flash_attention_forward(dev_output.data(), dev_lse.data(), dev_qkv.data(), s.batch, s.seq_len, s.heads,
                                s.head_dim);
  EXPECT_LE(nmse(dev_output.download(), output), tolerance(s));
  EXPECT_LE(nmse(dev_lse.download(), lse), tolerance(s));
  // The backward from the CPU forward's output and lse: tested on its own.
  DeviceVector<float> cpu_output(output), cpu_lse(lse);
  cuda::flash_attention_backward(dev_d_qkv.data(), dev_d_output.data(), cpu_output.data(), cpu_lse.data(),
                                 dev_qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim);
  const std::vector<float> device_d_qkv = dev_d_qkv.download();
  EXPECT_LE(nmse(device_d_qkv, d_qkv), tolerance(s));
  // Each of q, k, v on its own too (a wrong dK or dV must not hide behind a
  // right dQ in the pooled error).
  // With one key the softmax is constant, so dQ = dK = 0 exactly and both
  // sides hold only rounding noise: there they are measured against the
  // energy of dV instead of their own.
  const std::size_t width = 3 * static_cast<std::size_t>(s.heads) * s.head_dim;
  std::vector<float> device_parts[3], cpu_parts[3];
  for (int part = 0; part < 3; ++part) {
    std::vector<float>& device_part = device_parts[part];
    std::vector<float>& cpu_part = cpu_parts[part];
    for (std::size_t row = 0; row < n.qkv / width; ++row)
      for (int head = 0; head < s.heads; ++head)
        for (int i = 0; i < s.head_dim; ++i) {
          const std::size_t at = row * width + (3 * static_cast<std::size_t>(head) + part) * s.head_dim + i;
          device_part.push_back(device_d_qkv[at]);
          cpu_part.push_back(d_qkv[at]);
        }
  }
  double v_energy = 0.0;
  for (const float x : cpu_parts[2]) v_energy += static_cast<double>(x) * x;
  for (int part = 0; part < 3; ++part) {
    if (s.seq_len > 1 || part == 2) {
      EXPECT_LE(nmse(device_parts[part], cpu_parts[part]), tolerance(s)) << "part "
                                                                         << "qkv"[part];
    } else {
      double error = 0.0;
      for (std::size_t i = 0; i < cpu_parts[part].size(); ++i) {
        const double difference = static_cast<double>(device_parts[part][i]) - cpu_parts[part][i];
        error += difference * difference;
      }
      EXPECT_LE(error / v_energy, tolerance(s)) << "part "
                                                << "qkv"[part] << " (zero in exact arithmetic)";
    }
  }
}

// seq_len 70: two full key tiles and a partial one, so the online softmax
// rescales when a later tile holds a larger score; query tiles of 32 (head
// dims ≤ 64) or 16 / 8 (≤ 128) leave partial tiles too. head_dim 16, 64
// (Pythia-70m … 410m) with tiny T and 2 sequences × 2 heads, 80 (Pythia-2.8b:
// lanes with a missing feature), 128 (Pythia-1.4b, the largest the fused
// kernels take); seq_len 1 (a single key) for 3 sequences × 2 heads: one
// log-sum-exp per head would be a single dot product, whose relative rounding
// error is not bounded by √K·u when its terms cancel (its condition number
// Σ|q_i k_i| / |q·k| is unbounded), so the shape pools six of them.
INSTANTIATE_TEST_SUITE_P(Shapes, CudaFlashAttention,
                         ::testing::Values(Shape{1, 70, 1, 16}, Shape{2, 5, 2, 64}, Shape{1, 40, 1, 64},
                                           Shape{1, 9, 1, 80}, Shape{1, 19, 1, 128}, Shape{3, 1, 2, 32}),
                         [](const auto& info) { return shape_name(info.param); });

TEST(CudaFlashAttention, RefusesHeadDimensionsBeyondTheKernel) {
  LLC_SKIP_WITHOUT_DEVICE();
  EXPECT_FALSE(cuda::flash_attention_supports(256));
  EXPECT_TRUE(cuda::flash_attention_supports(128));
  EXPECT_THROW(cuda::flash_attention_forward(nullptr, nullptr, nullptr, 1, 1, 1, 256), BackendError);
  EXPECT_THROW(cuda::flash_attention_backward(nullptr, nullptr, nullptr, nullptr, nullptr, 1, 1, 1, 0), BackendError);
}

// Pythia training shapes on a GPU: the fused kernels against the parity
// kernel (itself tested against the CPU above), both on the device. Too large
// for the emulation (minutes of fibers), so GPU-only.
class CudaFlashAttentionPythia : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaFlashAttentionPythia, MatchesParityKernel) {
  LLC_SKIP_WITHOUT_DEVICE();
#if defined(LLCPRESS_CUDA_EMULATION)
  GTEST_SKIP() << "GPU-only: Pythia-size attention takes minutes under the CPU emulation (run test_cuda on a GPU)";
#endif
  const Shape s = GetParam();
  const Sizes n = sizes_of(s);
  const std::vector<float> qkv = random_normal(n.qkv, 92, 1.5f);  // (rows, 3 · heads · head_dim)
  const std::vector<float> d_output = random_normal(n.out, 93);   // (rows, heads · head_dim)
  DeviceVector<float> dev_qkv(qkv), dev_d_output(d_output);
  DeviceVector<float> parity_output(n.out), parity_lse(n.lse), parity_d_qkv(n.qkv);
  DeviceVector<float> fused_output(n.out), fused_lse(n.lse), fused_d_qkv(n.qkv);
  cuda::attention_forward(parity_output.data(), parity_lse.data(), dev_qkv.data(), s.batch, s.seq_len, s.heads,
                          s.head_dim);
  cuda::attention_backward(parity_d_qkv.data(), dev_d_output.data(), parity_output.data(), parity_lse.data(),
                           dev_qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim);
  cuda::flash_attention_forward(fused_output.data(), fused_lse.data(), dev_qkv.data(), s.batch, s.seq_len, s.heads,
                                s.head_dim);
  cuda::flash_attention_backward(fused_d_qkv.data(), dev_d_output.data(), fused_output.data(), fused_lse.data(),
                                 dev_qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim);
  EXPECT_LE(nmse(fused_output.download(), parity_output.download()), tolerance(s));
  EXPECT_LE(nmse(fused_lse.download(), parity_lse.download()), tolerance(s));
  EXPECT_LE(nmse(fused_d_qkv.download(), parity_d_qkv.download()), tolerance(s));
  // Deterministic: a second run gives the same bits (no atomics).
  std::vector<float> first = fused_d_qkv.download();
  cuda::flash_attention_backward(fused_d_qkv.data(), dev_d_output.data(), fused_output.data(), fused_lse.data(),
                                 dev_qkv.data(), s.batch, s.seq_len, s.heads, s.head_dim);
  EXPECT_EQ(fused_d_qkv.download(), first);
}

// Pythia-160m (12 heads of 64) and Pythia-1.4b (16 heads of 128) at
// sequence length 2048, batch 2; Pythia-14m (4 heads of 32) at 512.
INSTANTIATE_TEST_SUITE_P(Pythia, CudaFlashAttentionPythia,
                         ::testing::Values(Shape{2, 2048, 12, 64}, Shape{2, 2048, 16, 128}, Shape{4, 512, 4, 32}),
                         [](const auto& info) { return shape_name(info.param); });

}  // namespace
}  // namespace llcpress::cuda::test
