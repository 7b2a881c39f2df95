#include <algorithm>
#include <numeric>
#include <vector>

#include "cuda/embedding.h"
#include "cuda/kernel_launch.h"
#include "cuda/scratch_buffer.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;

// One block per row, threads across the features (coalesced row copies).
__global__ void embedding_forward_kernel(float* output, const std::int32_t* tokens, const float* table, int hidden) {
  const std::int64_t row = blockIdx.x;
  const float* source = table + static_cast<std::int64_t>(tokens[row]) * hidden;  // (hidden)
  float* target = output + row * hidden;                                          // (hidden)
  for (int j = static_cast<int>(threadIdx.x); j < hidden; j += kThreads) target[j] = source[j];
}

// Block g owns distinct token unique_tokens[g]; its rows are
// sorted_rows[offsets[g] .. offsets[g + 1]) in ascending order. Each thread
// sums its features over those rows, then adds once into the table row.
__global__ void embedding_backward_kernel(float* d_table, const float* d_output, const std::int32_t* unique_tokens,
                                          const std::int64_t* offsets, const std::int64_t* sorted_rows, int hidden) {
  const int group = static_cast<int>(blockIdx.x);
  const std::int64_t begin = offsets[group], end = offsets[group + 1];
  float* target = d_table + static_cast<std::int64_t>(unique_tokens[group]) * hidden;  // (hidden)
  for (int j = static_cast<int>(threadIdx.x); j < hidden; j += kThreads) {
    float sum = target[j];
    for (std::int64_t k = begin; k < end; ++k) sum += d_output[sorted_rows[k] * hidden + j];
    target[j] = sum;
  }
}

template <typename T>
void upload(const ScratchBuffer<T>& device, const std::vector<T>& host) {
  LLC_CHECK_CUDA(
      cudaMemcpyAsync(device.data(), host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice, kernel_stream()));
}

}  // namespace

void embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows, int hidden) {
  if (rows <= 0) return;
  LLC_LAUNCH(static_cast<unsigned>(rows), kThreads, 0, kernel_stream(), embedding_forward_kernel)
  (output, tokens, table, hidden);
  LLC_CHECK_LAUNCH();
}

void embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens, std::int64_t rows,
                        int hidden) {
  if (rows <= 0) return;
  std::vector<std::int32_t> host_tokens(static_cast<std::size_t>(rows));  // (rows)
  LLC_CHECK_CUDA(cudaMemcpyAsync(host_tokens.data(), tokens, sizeof(std::int32_t) * host_tokens.size(),
                                 cudaMemcpyDeviceToHost, kernel_stream()));
  LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));
  // Rows grouped by token, ascending rows within a group (stable sort).
  std::vector<std::int64_t> sorted_rows(host_tokens.size());  // (rows)
  std::iota(sorted_rows.begin(), sorted_rows.end(), std::int64_t{0});
  std::stable_sort(sorted_rows.begin(), sorted_rows.end(),
                   [&](std::int64_t a, std::int64_t b) { return host_tokens[a] < host_tokens[b]; });
  std::vector<std::int32_t> unique_tokens;  // (groups)
  std::vector<std::int64_t> offsets;        // (groups + 1)
  for (std::size_t k = 0; k < sorted_rows.size(); ++k) {
    const std::int32_t token = host_tokens[sorted_rows[k]];
    if (unique_tokens.empty() || unique_tokens.back() != token) {
      unique_tokens.push_back(token);
      offsets.push_back(static_cast<std::int64_t>(k));
    }
  }
  offsets.push_back(rows);
  const ScratchBuffer<std::int32_t> device_tokens(unique_tokens.size());  // (groups)
  const ScratchBuffer<std::int64_t> device_offsets(offsets.size());       // (groups + 1)
  const ScratchBuffer<std::int64_t> device_rows(sorted_rows.size());      // (rows)
  upload(device_tokens, unique_tokens);
  upload(device_offsets, offsets);
  upload(device_rows, sorted_rows);
  LLC_LAUNCH(static_cast<unsigned>(unique_tokens.size()), kThreads, 0, kernel_stream(), embedding_backward_kernel)
  (d_table, d_output, device_tokens.data(), device_offsets.data(), device_rows.data(), hidden);
  LLC_CHECK_LAUNCH();
  // The scratch buffers are freed in stream order (after the kernel). A copy
  // from pageable host memory has consumed its source when cudaMemcpyAsync
  // returns, so the host vectors may go.
}

}  // namespace llcpress::cuda
