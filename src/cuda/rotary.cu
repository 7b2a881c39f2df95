#include "cuda/kernel_launch.h"
#include "cuda/rotary.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;

// One thread per rotated pair (row, head, q or k, j < r/2): it reads x[j] and
// x[j + r/2] and writes both, so pairs never overlap between threads.
template <int kSign>
__global__ void rotary_kernel(float* qkv, const float* cos_table, const float* sin_table, std::int64_t pairs,
                              int seq_len, int heads, int head_dim, int half) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pair = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; pair < pairs;
       pair += stride) {
    const int j = static_cast<int>(pair % half);
    const std::int64_t rest = pair / half;
    const int part = static_cast<int>(rest % 2);  // 0: q, 1: k
    const int head = static_cast<int>((rest / 2) % heads);
    const std::int64_t row = rest / 2 / heads;
    const int position = static_cast<int>(row % seq_len);
    float* x = qkv + row * 3 * heads * head_dim + static_cast<std::int64_t>(head) * 3 * head_dim + part * head_dim;
    const float first = x[j], second = x[j + half];
    const float c = cos_table[static_cast<std::int64_t>(position) * half + j];
    const float s = static_cast<float>(kSign) * sin_table[static_cast<std::int64_t>(position) * half + j];
    x[j] = first * c - second * s;
    x[j + half] = second * c + first * s;
  }
}

template <int kSign>
void rotate(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len, int heads,
            int head_dim, int rotary_dims) {
  const int half = rotary_dims / 2;
  const std::int64_t pairs = batch * seq_len * heads * 2 * half;
  if (pairs <= 0) return;
  const unsigned blocks = blocks_for(pairs, kThreads) < 4096u ? blocks_for(pairs, kThreads) : 4096u;
  LLC_LAUNCH(blocks, kThreads, 0, kernel_stream(), rotary_kernel<kSign>)
  (qkv, cos_table, sin_table, pairs, seq_len, heads, head_dim, half);
  LLC_CHECK_LAUNCH();
}

}  // namespace

void rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                    int heads, int head_dim, int rotary_dims) {
  rotate<1>(qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}

void rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                     int heads, int head_dim, int rotary_dims) {
  rotate<-1>(d_qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}

}  // namespace llcpress::cuda
