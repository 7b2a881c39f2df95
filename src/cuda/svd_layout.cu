#include "cuda/kernel_launch.h"
#include "cuda/svd_layout.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) cast_to_double_kernel(double* out, const float* in, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count; i += stride)
    out[i] = static_cast<double>(in[i]);
}

__global__ void __launch_bounds__(kThreads) cast_to_float_kernel(float* out, const double* in, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < count; i += stride)
    out[i] = static_cast<float>(in[i]);
}

// One thread per output element, consecutive threads along an output row
// (coalesced writes; the reads stride by `rows`, a one-off per factorisation).
__global__ void __launch_bounds__(kThreads)
    column_major_to_row_major_kernel(float* out, const double* in, const double* column_scale, std::int64_t rows,
                                     std::int64_t columns) {
  const std::int64_t count = rows * columns, stride = static_cast<std::int64_t>(gridDim.x) * kThreads;
  for (std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < count; e += stride) {
    const std::int64_t i = e / columns, j = e % columns;
    const double value = in[i + j * rows];
    out[e] = static_cast<float>(column_scale != nullptr ? value * column_scale[j] : value);
  }
}

// Grid-stride launches: enough blocks to fill a GPU, never more than the work.
unsigned grid_for(std::int64_t count) {
  constexpr std::int64_t kMaxBlocks = 4096;
  const std::int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

}  // namespace

void cast_to_double(double* out, const float* in, std::int64_t count) {
  if (count <= 0) return;
  LLC_LAUNCH(grid_for(count), kThreads, 0, kernel_stream(), cast_to_double_kernel)(out, in, count);
  LLC_CHECK_LAUNCH();
}

void cast_to_float(float* out, const double* in, std::int64_t count) {
  if (count <= 0) return;
  LLC_LAUNCH(grid_for(count), kThreads, 0, kernel_stream(), cast_to_float_kernel)(out, in, count);
  LLC_CHECK_LAUNCH();
}

void column_major_to_row_major(float* out, const double* in, const double* column_scale, std::int64_t rows,
                               std::int64_t columns) {
  if (rows <= 0 || columns <= 0) return;
  LLC_LAUNCH(grid_for(rows * columns), kThreads, 0, kernel_stream(), column_major_to_row_major_kernel)
  (out, in, column_scale, rows, columns);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
