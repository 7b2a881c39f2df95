#include "cuda/kernel_launch.h"
#include "cuda/linear_bias.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;
// Column sums: a block owns 32 columns, its 16 warps take interleaved rows,
// and the 16 partials are added in warp order (as layernorm's d_weight).
constexpr int kColumnWarps = 16;

__global__ void bias_add_kernel(float* output, const float* bias, std::int64_t count, int features) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    output[i] += bias[i % features];
}

__global__ void column_sum_kernel(float* sums, const float* values, std::int64_t rows, int features) {
  __shared__ float partial[kColumnWarps][32];
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
  const int column = static_cast<int>(blockIdx.x) * 32 + lane;
  float sum = 0.0f;
  if (column < features)
    for (std::int64_t row = warp; row < rows; row += kColumnWarps) sum += values[row * features + column];
  partial[warp][lane] = sum;
  __syncthreads();
  if (warp == 0 && column < features) {
    float total = 0.0f;
    for (int w = 0; w < kColumnWarps; ++w) total += partial[w][lane];
    sums[column] = total;
  }
}

}  // namespace

void linear_bias_forward(float* output, const float* bias, std::int64_t rows, int features) {
  const std::int64_t count = rows * features;
  if (count <= 0) return;
  const unsigned blocks = blocks_for(count, kThreads) < 4096u ? blocks_for(count, kThreads) : 4096u;
  LLC_LAUNCH(blocks, kThreads, 0, kernel_stream(), bias_add_kernel)(output, bias, count, features);
  LLC_CHECK_LAUNCH();
}

void linear_bias_backward(float* d_bias, const float* d_output, std::int64_t rows, int features) {
  if (features <= 0) return;
  LLC_LAUNCH(blocks_for(features, 32), 32 * kColumnWarps, 0, kernel_stream(), column_sum_kernel)
  (d_bias, d_output, rows, features);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
