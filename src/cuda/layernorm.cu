#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"
#include "cuda/layernorm.h"
#include "cuda/layernorm_row.h"

namespace llcpress::cuda {

namespace {

// One warp per row: Pythia's hidden sizes (128 … 2048) give each lane 4 … 64
// features, read with stride 32 (coalesced). Eight rows per block.
constexpr int kRowsPerBlock = 8;
constexpr int kThreads = 32 * kRowsPerBlock;

// Column sums (d_weight, d_bias): a block owns 32 columns and its 16 warps
// walk interleaved rows, so each column's sum is formed in a fixed order.
constexpr int kColumnWarps = 16;

__global__ void layernorm_forward_kernel(float* output, float* mean, float* rstd, const float* input,
                                         const float* weight, const float* bias, std::int64_t rows, int hidden,
                                         float eps) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (row >= rows) return;                // a whole warp leaves together: the shuffles below stay full-warp
  const float* x = input + row * hidden;  // (hidden)
  float* y = output + row * hidden;       // (hidden)
  float sum = 0.0f;
  for (int j = lane; j < hidden; j += 32) sum += x[j];
  layernorm_row_forward(y, mean + row, rstd + row, x, weight, bias, sum, hidden, eps, lane);
}

// d_input += rstd · (g − mean(g) − x̂ · mean(g · x̂)), g = dy · weight.
__global__ void layernorm_backward_input_kernel(float* d_input, const float* d_output, const float* input,
                                                const float* mean, const float* rstd, const float* weight,
                                                std::int64_t rows, int hidden) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (row >= rows) return;
  const float* x = input + row * hidden;      // (hidden)
  const float* dy = d_output + row * hidden;  // (hidden)
  float* dx = d_input + row * hidden;         // (hidden)
  const float row_mean = mean[row], row_rstd = rstd[row];
  float sum_g = 0.0f, sum_g_xhat = 0.0f;
  for (int j = lane; j < hidden; j += 32) {
    const float g = dy[j] * weight[j];
    sum_g += g;
    sum_g_xhat += g * ((x[j] - row_mean) * row_rstd);
  }
  const float mean_g = warp_sum(sum_g) / static_cast<float>(hidden);
  const float mean_g_xhat = warp_sum(sum_g_xhat) / static_cast<float>(hidden);
  for (int j = lane; j < hidden; j += 32) {
    const float xhat = (x[j] - row_mean) * row_rstd;
    dx[j] += row_rstd * (dy[j] * weight[j] - mean_g - xhat * mean_g_xhat);
  }
}

// d_weight[j] = Σ_rows dy·x̂, d_bias[j] = Σ_rows dy. Block: 32 columns × 16
// warps; warp w sums rows w, w + 16, …, then the 16 partials are added in
// warp order.
__global__ void layernorm_backward_parameters_kernel(float* d_weight, float* d_bias, const float* d_output,
                                                     const float* input, const float* mean, const float* rstd,
                                                     std::int64_t rows, int hidden) {
  __shared__ float weight_partial[kColumnWarps][32];
  __shared__ float bias_partial[kColumnWarps][32];
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int column = static_cast<int>(blockIdx.x) * 32 + lane;
  float weight_sum = 0.0f, bias_sum = 0.0f;
  if (column < hidden) {
    for (std::int64_t row = warp; row < rows; row += kColumnWarps) {
      const float dy = d_output[row * hidden + column];
      weight_sum += dy * ((input[row * hidden + column] - mean[row]) * rstd[row]);
      bias_sum += dy;
    }
  }
  weight_partial[warp][lane] = weight_sum;
  bias_partial[warp][lane] = bias_sum;
  __syncthreads();
  if (warp == 0 && column < hidden) {
    float total_weight = 0.0f, total_bias = 0.0f;
    for (int w = 0; w < kColumnWarps; ++w) {
      total_weight += weight_partial[w][lane];
      total_bias += bias_partial[w][lane];
    }
    d_weight[column] = total_weight;
    d_bias[column] = total_bias;
  }
}

}  // namespace

void layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                       const float* bias, std::int64_t rows, int hidden, float eps) {
  if (rows <= 0) return;
  LLC_LAUNCH(blocks_for(rows, kRowsPerBlock), kThreads, 0, kernel_stream(), layernorm_forward_kernel)
  (output, mean, rstd, input, weight, bias, rows, hidden, eps);
  LLC_CHECK_LAUNCH();
}

void layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                        const float* mean, const float* rstd, const float* weight, std::int64_t rows, int hidden) {
  if (rows > 0) {
    LLC_LAUNCH(blocks_for(rows, kRowsPerBlock), kThreads, 0, kernel_stream(), layernorm_backward_input_kernel)
    (d_input, d_output, input, mean, rstd, weight, rows, hidden);
    LLC_CHECK_LAUNCH();
  }
  LLC_LAUNCH(blocks_for(hidden, 32), 32 * kColumnWarps, 0, kernel_stream(), layernorm_backward_parameters_kernel)
  (d_weight, d_bias, d_output, input, mean, rstd, rows, hidden);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
