#include <vector>

#include "cuda/block_reduce.h"
#include "cuda/cross_entropy.h"
#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;
// Backward: a block writes kBackwardColumns consecutive entries of one row.
constexpr int kBackwardColumns = 4 * kThreads;

// One block per row. Each thread keeps an online (max, Σ exp(x − max)) pair
// over its strided share of the vocabulary (50k entries: ~200 per thread),
// the block takes the maximum of the maxima and adds the rescaled sums in
// double (the CPU twin's running sum is double too).
__global__ void cross_entropy_forward_kernel(float* losses, float* log_sum_exp, const float* logits,
                                             const std::int32_t* targets, int vocab) {
  __shared__ float max_scratch[32];
  __shared__ double sum_scratch[32];
  const std::int64_t row = blockIdx.x;
  const float* x = logits + row * vocab;  // (vocab)
  float thread_max = -INFINITY, thread_sum = 0.0f;
  for (int j = static_cast<int>(threadIdx.x); j < vocab; j += kThreads) {
    const float value = x[j];
    if (value > thread_max) {
      thread_sum = thread_sum * expf(thread_max - value) + 1.0f;  // exp(−∞) = 0 on the first entry
      thread_max = value;
    } else {
      thread_sum += expf(value - thread_max);
    }
  }
  const float row_max = block_max(thread_max, max_scratch, -INFINITY);
  const double rescaled = thread_sum > 0.0f ? static_cast<double>(thread_sum) *
                                                  exp(static_cast<double>(thread_max) - static_cast<double>(row_max))
                                            : 0.0;
  const double row_sum = block_sum(rescaled, sum_scratch);
  if (threadIdx.x == 0) {
    const double lse = static_cast<double>(row_max) + log(row_sum);
    log_sum_exp[row] = static_cast<float>(lse);
    losses[row] = static_cast<float>(lse - static_cast<double>(x[targets[row]]));
  }
}

// grid (rows, column blocks): each entry is read once and written once by the
// same thread, so d_logits may alias logits; the target entry subtracts 1.
__global__ void cross_entropy_backward_kernel(float* d_logits, const float* logits, const float* log_sum_exp,
                                              const std::int32_t* targets, float d_loss, int vocab) {
  const std::int64_t row = blockIdx.x;
  const float lse = log_sum_exp[row];
  const int target = targets[row];
  const int begin = static_cast<int>(blockIdx.y) * kBackwardColumns;
  const int end = begin + kBackwardColumns < vocab ? begin + kBackwardColumns : vocab;
  const float* x = logits + row * vocab;  // (vocab)
  float* dx = d_logits + row * vocab;     // (vocab)
  for (int j = begin + static_cast<int>(threadIdx.x); j < end; j += kThreads) {
    const float probability = expf(x[j] - lse);
    dx[j] = (j == target ? probability - 1.0f : probability) * d_loss;
  }
}

}  // namespace

double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits, const std::int32_t* targets,
                             std::int64_t rows, int vocab) {
  if (rows <= 0) return 0.0;
  LLC_LAUNCH(static_cast<unsigned>(rows), kThreads, 0, kernel_stream(), cross_entropy_forward_kernel)
  (losses, log_sum_exp, logits, targets, vocab);
  LLC_CHECK_LAUNCH();
  std::vector<float> host_losses(static_cast<std::size_t>(rows));  // (rows)
  LLC_CHECK_CUDA(cudaMemcpyAsync(host_losses.data(), losses, sizeof(float) * host_losses.size(), cudaMemcpyDeviceToHost,
                                 kernel_stream()));
  LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));
  double total = 0.0;
  for (float loss : host_losses) total += loss;
  return total / static_cast<double>(rows);
}

void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp, const std::int32_t* targets,
                            float d_loss, std::int64_t rows, int vocab) {
  if (rows <= 0) return;
  // Rows on x (up to 2³¹ − 1 blocks), the ≤ 50 column blocks of a row on y.
  const dim3 grid(static_cast<unsigned>(rows), blocks_for(vocab, kBackwardColumns));
  LLC_LAUNCH(grid, kThreads, 0, kernel_stream(), cross_entropy_backward_kernel)
  (d_logits, logits, log_sum_exp, targets, d_loss, vocab);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
