#include <vector>

#include "backend/elementwise.h"
#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"
#include "cuda/quantize.h"
#include "cuda/scratch_buffer.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;
constexpr unsigned kMaxBlocks = 1024;  // partials the host adds (8 KB)

using backend::LevelMap;  // the quantizer of one value, shared with the CPU

__global__ void quantize_kernel(float* out, const float* in, std::int64_t count, LevelMap map) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    out[i] = map(in[i]);
}

// Row r of (rows, cols) quantized on [−clips[r], clips[r]]: one block per
// row, its threads across the columns.
__global__ void quantize_rows_kernel(float* out, const float* in, const float* clips, std::int64_t cols, int levels) {
  const std::int64_t row = blockIdx.x;
  const LevelMap map(levels, clips[row]);
  for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) out[row * cols + j] = map(in[row * cols + j]);
}

// Block b writes partials[b]: its threads' grid-stride sums in double, then
// the block tree (fixed order).
__global__ void squared_error_kernel(double* partials, const float* in, std::int64_t count, LevelMap map) {
  __shared__ double scratch[32];
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  double sum = 0.0;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const double difference = static_cast<double>(in[i]) - map(in[i]);
    sum += difference * difference;
  }
  const double total = block_sum(sum, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void max_abs_kernel(float* partials, const float* in, std::int64_t count) {
  __shared__ float scratch[32];
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  float largest = 0.0f;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    largest = fmaxf(largest, fabsf(in[i]));
  const float total = block_max(largest, scratch, 0.0f);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

unsigned grid_for(std::int64_t count) {
  const unsigned needed = blocks_for(count, kThreads);
  return needed < kMaxBlocks ? needed : kMaxBlocks;
}

template <typename T>
std::vector<T> download(const ScratchBuffer<T>& device, std::size_t count) {
  std::vector<T> host(count);
  LLC_CHECK_CUDA(
      cudaMemcpyAsync(host.data(), device.data(), sizeof(T) * count, cudaMemcpyDeviceToHost, kernel_stream()));
  LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));
  return host;
}

void check_quantizer(int levels, float clip) {
  LLC_CHECK(levels >= 2 && clip >= 0.0f && clip <= 3.402823466e+38f, ::llcpress::ConfigError, "quantize",
            "use at least 2 levels and a finite clip ≥ 0", "levels {} clip {}", levels, clip);
}

}  // namespace

void quantize_uniform_forward(float* out, const float* in, std::int64_t count, int levels, float clip) {
  check_quantizer(levels, clip);
  if (count <= 0) return;
  LLC_LAUNCH(grid_for(count), kThreads, 0, kernel_stream(), quantize_kernel)(out, in, count, LevelMap(levels, clip));
  LLC_CHECK_LAUNCH();
}

void quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows, std::int64_t cols,
                           int levels) {
  if (rows <= 0 || cols <= 0) return;
  for (std::int64_t r = 0; r < rows; ++r) check_quantizer(levels, host_clips[r]);
  LLC_CHECK(rows < (1LL << 31), ::llcpress::BackendError, "quantize_rows_forward", "quantize in row blocks",
            "{} rows exceed one CUDA grid dimension", rows);
  const ScratchBuffer<float> clips(static_cast<std::size_t>(rows));  // (rows)
  LLC_CHECK_CUDA(
      cudaMemcpyAsync(clips.data(), host_clips, sizeof(float) * rows, cudaMemcpyHostToDevice, kernel_stream()));
  LLC_LAUNCH(static_cast<unsigned>(rows), kThreads, 0, kernel_stream(), quantize_rows_kernel)
  (out, in, clips.data(), cols, levels);
  LLC_CHECK_LAUNCH();
}

double quantization_squared_error(const float* in, std::int64_t count, int levels, float clip) {
  check_quantizer(levels, clip);
  if (count <= 0) return 0.0;
  const unsigned blocks = grid_for(count);
  const ScratchBuffer<double> partials(blocks);  // (blocks)
  LLC_LAUNCH(blocks, kThreads, 0, kernel_stream(), squared_error_kernel)
  (partials.data(), in, count, LevelMap(levels, clip));
  LLC_CHECK_LAUNCH();
  double total = 0.0;
  for (double partial : download(partials, blocks)) total += partial;
  return total;
}

float max_abs(const float* in, std::int64_t count) {
  if (count <= 0) return 0.0f;
  const unsigned blocks = grid_for(count);
  const ScratchBuffer<float> partials(blocks);  // (blocks)
  LLC_LAUNCH(blocks, kThreads, 0, kernel_stream(), max_abs_kernel)(partials.data(), in, count);
  LLC_CHECK_LAUNCH();
  float largest = 0.0f;
  for (float partial : download(partials, blocks)) largest = partial > largest ? partial : largest;
  return largest;
}

}  // namespace llcpress::cuda
