// CudaBackend's choice of attention kernel (cuda-kernels3), through the
// Backend interface under the CPU emulation: the fused kernels by default,
// the parity kernel on request and for heads wider than the fused kernels
// take; each against the CPU backend. Only in test_cuda_emulated.
#include <gtest/gtest.h>

#include <vector>

#include "backend/buffer.h"
#include "backend/cpu_backend.h"
#include "cuda/cuda_backend.h"
#include "cuda/flash_attention.h"
#include "kernel_test_support.h"

namespace llcpress::cuda::test {
namespace {

struct AttentionResult {
  std::vector<float> output, lse, d_qkv;
};

AttentionResult run_attention(backend::Backend& backend, const std::vector<float>& qkv,
                              const std::vector<float>& d_output, std::int64_t batch, int seq_len, int heads,
                              int head_dim) {
  const std::size_t lse_size = static_cast<std::size_t>(batch) * heads * seq_len;
  backend::Buffer<float> dev_qkv(backend, qkv.size()), dev_d_output(backend, d_output.size());
  backend::Buffer<float> dev_output(backend, d_output.size()), dev_lse(backend, lse_size),
      dev_d_qkv(backend, qkv.size());
  dev_qkv.upload(qkv);
  dev_d_output.upload(d_output);
  backend.reserve_attention(seq_len, head_dim);
  backend.attention_forward(dev_output.data(), dev_lse.data(), dev_qkv.data(), batch, seq_len, heads, head_dim);
  backend.attention_backward(dev_d_qkv.data(), dev_d_output.data(), dev_output.data(), dev_lse.data(), dev_qkv.data(),
                             batch, seq_len, heads, head_dim);
  AttentionResult result{std::vector<float>(d_output.size()), std::vector<float>(lse_size),
                         std::vector<float>(qkv.size())};
  dev_output.download(result.output);
  dev_lse.download(result.lse);
  dev_d_qkv.download(result.d_qkv);
  return result;
}

// As test_kernel_attention.cpp: K = head_dim + seq_len, doubled for the
// backward, 2 ulps for the exp.
double tolerance(int seq_len, int head_dim) { return nmse_tolerance(Precision::Fp32, 2.0 * (head_dim + seq_len), 2); }

void expect_close(const AttentionResult& actual, const AttentionResult& expected, double bound, const char* what) {
  EXPECT_LE(nmse(actual.output, expected.output), bound) << what;
  EXPECT_LE(nmse(actual.lse, expected.lse), bound) << what;
  EXPECT_LE(nmse(actual.d_qkv, expected.d_qkv), bound) << what;
}

TEST(EmulatedBackendAttention, FusedByDefaultParityOnRequestBothMatchTheCpu) {
  constexpr std::int64_t batch = 1;
  constexpr int seq_len = 40, heads = 2, head_dim = 64;
  const std::vector<float> qkv = random_normal(batch * seq_len * 3 * heads * head_dim, 95, 1.5f);
  const std::vector<float> d_output = random_normal(batch * seq_len * heads * head_dim, 96);
  backend::CpuBackend cpu;
  const AttentionResult expected = run_attention(cpu, qkv, d_output, batch, seq_len, heads, head_dim);
  CudaBackend gpu(0, cuda::Precision::Fp32);
  EXPECT_EQ(gpu.attention_kernel(), CudaBackend::AttentionKernel::Fused);
  const AttentionResult fused = run_attention(gpu, qkv, d_output, batch, seq_len, heads, head_dim);
  gpu.set_attention_kernel(CudaBackend::AttentionKernel::Parity);
  const AttentionResult parity = run_attention(gpu, qkv, d_output, batch, seq_len, heads, head_dim);
  expect_close(fused, expected, tolerance(seq_len, head_dim), "fused");
  expect_close(parity, expected, tolerance(seq_len, head_dim), "parity");
  // (No claim on their bits: both kernels happen to form each sum key by key
  // and query by query on the same lane split, so under the emulation they
  // agree to the bit; on a GPU the compiler's FMA contraction may differ.)
}

// Pythia-1b's heads of 256 features: beyond the fused kernels, so the
// default setting runs the parity kernel instead of failing.
TEST(EmulatedBackendAttention, WideHeadsFallBackToTheParityKernel) {
  constexpr std::int64_t batch = 1;
  constexpr int seq_len = 3, heads = 1, head_dim = 256;
  ASSERT_FALSE(flash_attention_supports(head_dim));
  const std::vector<float> qkv = random_normal(batch * seq_len * 3 * heads * head_dim, 97, 1.5f);
  const std::vector<float> d_output = random_normal(batch * seq_len * heads * head_dim, 98);
  backend::CpuBackend cpu;
  const AttentionResult expected = run_attention(cpu, qkv, d_output, batch, seq_len, heads, head_dim);
  CudaBackend gpu(0, cuda::Precision::Fp32);
  const AttentionResult fallback = run_attention(gpu, qkv, d_output, batch, seq_len, heads, head_dim);
  expect_close(fallback, expected, tolerance(seq_len, head_dim), "parity fallback");
}

}  // namespace
}  // namespace llcpress::cuda::test
