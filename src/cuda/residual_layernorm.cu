#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"
#include "cuda/layernorm.h"
#include "cuda/layernorm_row.h"
#include "cuda/residual_layernorm.h"

namespace llcpress::cuda {

namespace {

// One warp per row, eight rows per block, as layernorm.cu.
constexpr int kRowsPerBlock = 8;
constexpr int kThreads = 32 * kRowsPerBlock;

// The add, the row mean and the centred squares (two passes, as the CPU
// twin: E[x²] − E[x]² cancels when |mean| ≫ std), then the normalisation. A
// lane re-reads only the sum elements it wrote itself, so no barrier is
// needed between the passes.
__global__ void __launch_bounds__(kThreads)
    residual_layernorm_forward_kernel(float* sum, float* output, float* mean, float* rstd, const float* input,
                                      const float* residual, const float* weight, const float* bias, std::int64_t rows,
                                      int hidden, float eps) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (row >= rows) return;                   // a whole warp leaves together: the shuffles below stay full-warp
  const float* x = input + row * hidden;     // (hidden)
  const float* r = residual + row * hidden;  // (hidden)
  float* s = sum + row * hidden;             // (hidden)
  float* y = output + row * hidden;          // (hidden)
  float total = 0.0f;
  for (int j = lane; j < hidden; j += 32) {
    const float value = x[j] + r[j];
    s[j] = value;
    total += value;
  }
  layernorm_row_forward(y, mean + row, rstd + row, s, weight, bias, total, hidden, eps, lane);
}

}  // namespace

void residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd, const float* input,
                                const float* residual, const float* weight, const float* bias, std::int64_t rows,
                                int hidden, float eps) {
  if (rows <= 0) return;
  LLC_LAUNCH(blocks_for(rows, kRowsPerBlock), kThreads, 0, kernel_stream(), residual_layernorm_forward_kernel)
  (sum, output, mean, rstd, input, residual, weight, bias, rows, hidden, eps);
  LLC_CHECK_LAUNCH();
}

void residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output, const float* sum,
                                 const float* mean, const float* rstd, const float* weight, std::int64_t rows,
                                 int hidden) {
  layernorm_backward(d_sum, d_weight, d_bias, d_output, sum, mean, rstd, weight, rows, hidden);
}

}  // namespace llcpress::cuda
