#include "backend/elementwise.h"
#include "cuda/gelu.h"
#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;

// The shared reference form (backend/elementwise.h), evaluated with the
// device's erff/tanhf/expf (≤ 2 ulp each).
template <bool kExact>
__device__ __forceinline__ float gelu_value(float x) {
  return kExact ? backend::gelu_erf(x) : backend::gelu_tanh(x);
}
template <bool kExact>
__device__ __forceinline__ float gelu_derivative(float x) {
  return kExact ? backend::gelu_erf_derivative(x) : backend::gelu_tanh_derivative(x);
}

// Grid-stride loops: one element per thread per iteration, coalesced.
template <bool kExact>
__global__ void gelu_forward_kernel(float* output, const float* input, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    output[i] = gelu_value<kExact>(input[i]);
}

template <bool kExact>
__global__ void gelu_backward_kernel(float* d_input, const float* d_output, const float* input, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    d_input[i] = d_output[i] * gelu_derivative<kExact>(input[i]);
}

// Enough blocks to fill an H100 several times over; the loop covers the rest.
unsigned elementwise_blocks(std::int64_t count) {
  const unsigned needed = blocks_for(count, kThreads);
  return needed < 4096u ? needed : 4096u;
}

}  // namespace

void gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) {
  if (count <= 0) return;
  if (kind == GeluKind::Erf)
    LLC_LAUNCH(elementwise_blocks(count), kThreads, 0, kernel_stream(), gelu_forward_kernel<true>)
  (output, input, count);
  else LLC_LAUNCH(elementwise_blocks(count), kThreads, 0, kernel_stream(), gelu_forward_kernel<false>)(output, input,
                                                                                                       count);
  LLC_CHECK_LAUNCH();
}

void gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count, GeluKind kind) {
  if (count <= 0) return;
  if (kind == GeluKind::Erf)
    LLC_LAUNCH(elementwise_blocks(count), kThreads, 0, kernel_stream(), gelu_backward_kernel<true>)
  (d_input, d_output, input, count);
  else LLC_LAUNCH(elementwise_blocks(count), kThreads, 0, kernel_stream(), gelu_backward_kernel<false>)(
      d_input, d_output, input, count);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
