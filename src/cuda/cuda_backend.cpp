#include "cuda/cuda_backend.h"

#include <fmt/format.h>

#include "core/check.h"
#include "cuda/check_cuda.h"
#include "core/device.h"
#include "cuda/add_scaled.h"
#include "cuda/device_info.h"
#include "cuda/device_select.h"
#include "cuda/gemm.h"

namespace llcpress::cuda {

using backend::GeluKind;
using backend::UnsupportedOp;

CudaBackend::CudaBackend(int device, Precision precision) : context_(device, precision) {}

CudaBackend::~CudaBackend() = default;

std::string CudaBackend::description() const {
  const DeviceInfo device = active_device();
  const std::string gpu = device.kind == DeviceKind::Cuda && device.ordinal == context_.device()
                              ? device.description()
                              : fmt::format("cuda:{} {}", context_.device(), device_description(context_.device()));
  return fmt::format("{}, GEMMs {} (cuBLASLt)", gpu, precision_name(context_.precision()));
}

void CudaBackend::unsupported(const char* op) const {
  throw UnsupportedOp("cuda", fmt::format("{} (its kernel is not wired into this build yet)", op));
}

// ---------------------------------------------------------------- memory

void* CudaBackend::allocate(std::size_t bytes) {
  void* memory = nullptr;
  // cudaMalloc aligns to 256 bytes, more than the 64 the interface promises.
  if (bytes > 0) LLC_CHECK_CUDA(cudaMalloc(&memory, bytes));
  return memory;
}

void CudaBackend::deallocate(void* memory, std::size_t) noexcept {
  // cudaFree waits for work that may still use the memory; errors cannot be thrown from here.
  if (memory != nullptr) cudaFree(memory);
}

void CudaBackend::upload(void* destination, const void* host_source, std::size_t bytes) {
  // Stream-ordered after the ops before it, and synchronous for the host buffer (the interface's promise).
  LLC_CHECK_CUDA(cudaMemcpyAsync(destination, host_source, bytes, cudaMemcpyHostToDevice, context_.stream()));
  context_.synchronize();
}

void CudaBackend::download(void* host_destination, const void* source, std::size_t bytes) {
  LLC_CHECK_CUDA(cudaMemcpyAsync(host_destination, source, bytes, cudaMemcpyDeviceToHost, context_.stream()));
  context_.synchronize();
}

void CudaBackend::copy(float* destination, const float* source, std::int64_t count) {
  if (count > 0)
    LLC_CHECK_CUDA(
        cudaMemcpyAsync(destination, source, count * sizeof(float), cudaMemcpyDeviceToDevice, context_.stream()));
}

void CudaBackend::zero(float* buffer, std::int64_t count) {
  if (count > 0) LLC_CHECK_CUDA(cudaMemsetAsync(buffer, 0, count * sizeof(float), context_.stream()));
}

void CudaBackend::synchronize() { context_.synchronize(); }

// ---------------------------------------------------------------- generic math

void CudaBackend::gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                       Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                       std::int64_t ldb, std::int64_t ldc) {
  cuda::gemm(context_, c, a, b, m, n, k, transpose_a, transpose_b, alpha, beta, lda, ldb, ldc);
}

void CudaBackend::add_scaled(float* destination, const float* source, float weight, std::int64_t count) {
  cuda::add_scaled(destination, source, weight, count, context_.stream());
}

// ---------------------------------------------------------------- model ops

void CudaBackend::linear_forward(float* output, const float* input, const float* weight, const float* bias,
                                 std::int64_t rows, int in_features, int out_features, bool accumulate) {
  cuda::linear_forward(context_, output, input, weight, bias, rows, in_features, out_features, accumulate);
}

void CudaBackend::linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output,
                                  const float* input, const float* weight, std::int64_t rows, int in_features,
                                  int out_features) {
  cuda::linear_backward(context_, d_input, d_weight, d_bias, d_output, input, weight, rows, in_features, out_features);
}

// The kernels below come from cuda-kernels (cuda/embedding.h, layernorm.h,
// rotary.h, attention.h, gelu.h, cross_entropy.h, sampler_step.h): each op
// becomes set_kernel_stream(context_.stream()) + the launcher of the same name.
void CudaBackend::embedding_forward(float*, const std::int32_t*, const float*, std::int64_t, int) {
  unsupported("embedding_forward");
}
void CudaBackend::embedding_backward(float*, const float*, const std::int32_t*, std::int64_t, int) {
  unsupported("embedding_backward");
}
void CudaBackend::layernorm_forward(float*, float*, float*, const float*, const float*, const float*, std::int64_t, int,
                                    float) {
  unsupported("layernorm_forward");
}
void CudaBackend::layernorm_backward(float*, float*, float*, const float*, const float*, const float*, const float*,
                                     const float*, std::int64_t, int) {
  unsupported("layernorm_backward");
}
void CudaBackend::rotary_forward(float*, const float*, const float*, std::int64_t, int, int, int, int) {
  unsupported("rotary_forward");
}
void CudaBackend::rotary_backward(float*, const float*, const float*, std::int64_t, int, int, int, int) {
  unsupported("rotary_backward");
}
void CudaBackend::reserve_attention(int, int) { unsupported("reserve_attention"); }
void CudaBackend::attention_forward(float*, float*, const float*, std::int64_t, int, int, int) {
  unsupported("attention_forward");
}
void CudaBackend::attention_backward(float*, const float*, const float*, const float*, const float*, std::int64_t, int,
                                     int, int) {
  unsupported("attention_backward");
}
void CudaBackend::gelu_forward(float*, const float*, std::int64_t, GeluKind) { unsupported("gelu_forward"); }
void CudaBackend::gelu_backward(float*, const float*, const float*, std::int64_t, GeluKind) {
  unsupported("gelu_backward");
}
double CudaBackend::cross_entropy_forward(float*, float*, const float*, const std::int32_t*, std::int64_t, int) {
  unsupported("cross_entropy_forward");
}
void CudaBackend::cross_entropy_backward(float*, const float*, const float*, const std::int32_t*, float, std::int64_t,
                                         int) {
  unsupported("cross_entropy_backward");
}

backend::StepSums CudaBackend::sampler_step(float*, float*, float*, const float*, const float*,
                                            std::span<const backend::SamplerChunk>,
                                            const backend::SamplerStepScalars&) {
  unsupported("sampler_step");
}

// ---------------------------------------------------------------- compression

void CudaBackend::quantize_rows_forward(float*, const float*, const float*, std::int64_t, std::int64_t, int) {
  unsupported("quantize_rows_forward");
}
void CudaBackend::noise_forward(float*, const float*, float, std::uint64_t, std::uint64_t, std::int64_t) {
  unsupported("noise_forward");
}
void CudaBackend::zero_elements(float*, const std::size_t*, std::int64_t) { unsupported("zero_elements"); }
void CudaBackend::zero_columns(float* matrix, std::int64_t rows, std::int64_t cols, std::int64_t first,
                               std::int64_t count) {
  // A strided 2-D memset: `rows` rows of `count` floats, `cols` floats apart.
  if (rows > 0 && count > 0)
    LLC_CHECK_CUDA(
        cudaMemset2DAsync(matrix + first, cols * sizeof(float), 0, count * sizeof(float), rows, context_.stream()));
}

// ---------------------------------------------------------------- registry

std::string cuda_backend_unavailable_reason() {
  return device_count() > 0 ? std::string() : std::string("no CUDA device visible (no GPU or no NVIDIA driver)");
}

namespace {
std::unique_ptr<backend::Backend> make_cuda_backend() {
  DeviceInfo device = active_device();
  // Nothing chose a GPU for this process yet: the local rank's, by select_device's rule (and its errors).
  if (device.kind != DeviceKind::Cuda)
    device = select_device(DeviceKind::Cuda, local_rank_from_environment(), "backend cuda");
  return std::make_unique<CudaBackend>(device.ordinal);
}
}  // namespace

LLCPRESS_REGISTER_BACKEND(backend::BackendEntry{"cuda", cuda_backend_unavailable_reason, make_cuda_backend});

}  // namespace llcpress::cuda
