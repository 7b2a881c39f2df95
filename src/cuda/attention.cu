#include <cmath>

#include "cuda/attention.h"
#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"
#include "cuda/scratch_buffer.h"

namespace llcpress::cuda {

namespace {

constexpr int kWarps = 8;  // rows per block
constexpr int kThreads = 32 * kWarps;
constexpr int kMaxHeadDim = 256;

// Where row `position` of sequence `b`, head `head` starts in the fused QKV
// (q at +0, k at +head_dim, v at +2·head_dim).
struct HeadLayout {
  std::int64_t row_width;  // 3 · heads · head_dim
  int heads, head_dim, seq_len;
  __device__ __forceinline__ std::int64_t offset(std::int64_t b, int position, int head) const {
    return (b * seq_len + position) * row_width + static_cast<std::int64_t>(head) * 3 * head_dim;
  }
};

__device__ __forceinline__ float dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Warp `w` of block `x` takes task x·kWarps + w = ((b · heads + head) · T + t).
// Lanes own output features lane + 32·i, i < kPerLane.
template <int kPerLane>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(float* output, float* row_log_sum_exp, const float* qkv, HeadLayout layout,
                             std::int64_t tasks, float scale) {
  __shared__ float q_shared[kWarps][kMaxHeadDim];
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t task = static_cast<std::int64_t>(blockIdx.x) * kWarps + warp;
  if (task >= tasks) return;  // whole warps only
  const int t = static_cast<int>(task % layout.seq_len);
  const int head = static_cast<int>((task / layout.seq_len) % layout.heads);
  const std::int64_t b = task / layout.seq_len / layout.heads;
  const int d = layout.head_dim;
  float* q = q_shared[warp];  // (head_dim)
  const float* q_global = qkv + layout.offset(b, t, head);
  for (int i = lane; i < d; i += 32) q[i] = q_global[i];
  __syncwarp();
  float running_max = -INFINITY, running_sum = 0.0f;
  float accumulator[kPerLane];
  for (int i = 0; i < kPerLane; ++i) accumulator[i] = 0.0f;
  for (int tile = 0; tile <= t; tile += 32) {
    const int key = tile + lane;
    float score = -INFINITY;
    // torch scales q·kᵀ after the product; so do the CPU op and this kernel.
    if (key <= t) score = dot(q, qkv + layout.offset(b, key, head) + d, d) * scale;
    const float new_max = fmaxf(running_max, warp_max(score));  // finite: key = tile ≤ t for lane 0
    const float probability = key <= t ? expf(score - new_max) : 0.0f;
    const float correction = expf(running_max - new_max);  // 0 on the first tile
    running_sum = running_sum * correction + warp_sum(probability);
    for (int i = 0; i < kPerLane; ++i) accumulator[i] *= correction;
    const int keys = t - tile + 1 < 32 ? t - tile + 1 : 32;  // warp-uniform
    for (int j = 0; j < keys; ++j) {
      const float p = __shfl_sync(kFullWarp, probability, j);
      const float* v = qkv + layout.offset(b, tile + j, head) + 2 * d;
      for (int i = 0; i < kPerLane; ++i)
        if (lane + 32 * i < d) accumulator[i] += p * v[lane + 32 * i];
    }
    running_max = new_max;
  }
  float* out = output + (b * layout.seq_len + t) * layout.heads * d + static_cast<std::int64_t>(head) * d;
  for (int i = 0; i < kPerLane; ++i)
    if (lane + 32 * i < d) out[lane + 32 * i] = accumulator[i] / running_sum;
  if (lane == 0) row_log_sum_exp[task] = running_max + logf(running_sum);
}

// dQ_t = Σ_{j ≤ t} dS_tj · k_j with dS = P ⊙ (dP − D) · scale, dP_tj = dO_t·v_j,
// D_t = dO_t·O_t (also stored for the dK/dV kernel).
template <int kPerLane>
__global__ void __launch_bounds__(kThreads)
    attention_backward_query_kernel(float* d_qkv, float* row_dot, const float* d_output, const float* output,
                                    const float* row_log_sum_exp, const float* qkv, HeadLayout layout,
                                    std::int64_t tasks, float scale) {
  __shared__ float q_shared[kWarps][kMaxHeadDim];
  __shared__ float d_out_shared[kWarps][kMaxHeadDim];
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t task = static_cast<std::int64_t>(blockIdx.x) * kWarps + warp;
  if (task >= tasks) return;
  const int t = static_cast<int>(task % layout.seq_len);
  const int head = static_cast<int>((task / layout.seq_len) % layout.heads);
  const std::int64_t b = task / layout.seq_len / layout.heads;
  const int d = layout.head_dim;
  const std::int64_t out_offset = (b * layout.seq_len + t) * layout.heads * d + static_cast<std::int64_t>(head) * d;
  float* q = q_shared[warp];          // (head_dim)
  float* d_out = d_out_shared[warp];  // (head_dim)
  const float* q_global = qkv + layout.offset(b, t, head);
  float partial_dot = 0.0f;
  for (int i = lane; i < d; i += 32) {
    q[i] = q_global[i];
    d_out[i] = d_output[out_offset + i];
    partial_dot += d_out[i] * output[out_offset + i];
  }
  const float row_d = warp_sum(partial_dot);  // the shuffles also order the shared writes for the warp
  __syncwarp();
  const float lse = row_log_sum_exp[task];
  float accumulator[kPerLane];
  for (int i = 0; i < kPerLane; ++i) accumulator[i] = 0.0f;
  for (int tile = 0; tile <= t; tile += 32) {
    const int key = tile + lane;
    float d_score = 0.0f;
    if (key <= t) {
      const float* k = qkv + layout.offset(b, key, head) + d;
      const float p = expf(dot(q, k, d) * scale - lse);
      const float dp = dot(d_out, k + d, d);  // v follows k
      d_score = p * (dp - row_d) * scale;
    }
    const int keys = t - tile + 1 < 32 ? t - tile + 1 : 32;
    for (int j = 0; j < keys; ++j) {
      const float ds = __shfl_sync(kFullWarp, d_score, j);
      const float* k = qkv + layout.offset(b, tile + j, head) + d;
      for (int i = 0; i < kPerLane; ++i)
        if (lane + 32 * i < d) accumulator[i] += ds * k[lane + 32 * i];
    }
  }
  float* dq = d_qkv + layout.offset(b, t, head);
  for (int i = 0; i < kPerLane; ++i)
    if (lane + 32 * i < d) dq[lane + 32 * i] = accumulator[i];
  if (lane == 0) row_dot[task] = row_d;
}

// For key row j: dV_j = Σ_{i ≥ j} P_ij dO_i, dK_j = Σ_{i ≥ j} dS_ij q_i; the
// lanes take 32 query rows of a tile at a time.
template <int kPerLane>
__global__ void __launch_bounds__(kThreads)
    attention_backward_key_kernel(float* d_qkv, const float* row_dot, const float* d_output,
                                  const float* row_log_sum_exp, const float* qkv, HeadLayout layout, std::int64_t tasks,
                                  float scale) {
  __shared__ float k_shared[kWarps][kMaxHeadDim];
  __shared__ float v_shared[kWarps][kMaxHeadDim];
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t task = static_cast<std::int64_t>(blockIdx.x) * kWarps + warp;
  if (task >= tasks) return;
  const int j = static_cast<int>(task % layout.seq_len);
  const int head = static_cast<int>((task / layout.seq_len) % layout.heads);
  const std::int64_t b = task / layout.seq_len / layout.heads;
  const int d = layout.head_dim;
  const std::int64_t row_base = task - j;  // (b, head, 0) in the (batch, heads, seq_len) rows
  float* k = k_shared[warp];               // (head_dim)
  float* v = v_shared[warp];               // (head_dim)
  const float* kv_global = qkv + layout.offset(b, j, head) + d;
  for (int i = lane; i < d; i += 32) {
    k[i] = kv_global[i];
    v[i] = kv_global[d + i];
  }
  __syncwarp();
  float dk[kPerLane], dv[kPerLane];
  for (int i = 0; i < kPerLane; ++i) dk[i] = dv[i] = 0.0f;
  for (int tile = j; tile < layout.seq_len; tile += 32) {
    const int query = tile + lane;
    float p = 0.0f, d_score = 0.0f;
    if (query < layout.seq_len) {
      const float* q = qkv + layout.offset(b, query, head);
      const float* d_out =
          d_output + (b * layout.seq_len + query) * layout.heads * d + static_cast<std::int64_t>(head) * d;
      p = expf(dot(q, k, d) * scale - row_log_sum_exp[row_base + query]);
      d_score = p * (dot(d_out, v, d) - row_dot[row_base + query]) * scale;
    }
    const int queries = layout.seq_len - tile < 32 ? layout.seq_len - tile : 32;
    for (int r = 0; r < queries; ++r) {
      const float p_r = __shfl_sync(kFullWarp, p, r);
      const float ds_r = __shfl_sync(kFullWarp, d_score, r);
      const float* q = qkv + layout.offset(b, tile + r, head);
      const float* d_out =
          d_output + (b * layout.seq_len + tile + r) * layout.heads * d + static_cast<std::int64_t>(head) * d;
      for (int i = 0; i < kPerLane; ++i)
        if (lane + 32 * i < d) {
          dv[i] += p_r * d_out[lane + 32 * i];
          dk[i] += ds_r * q[lane + 32 * i];
        }
    }
  }
  float* dkv = d_qkv + layout.offset(b, j, head) + d;
  for (int i = 0; i < kPerLane; ++i)
    if (lane + 32 * i < d) {
      dkv[lane + 32 * i] = dk[i];
      dkv[d + lane + 32 * i] = dv[i];
    }
}

// Lanes per row own ⌈head_dim / 32⌉ features; the kernels are instantiated
// for 1, 2, 4 and 8 (head_dim ≤ 32, 64, 128, 256).
int features_per_lane(int head_dim) {
  const int needed = (head_dim + 31) / 32;
  return needed <= 1 ? 1 : needed <= 2 ? 2 : needed <= 4 ? 4 : 8;
}

template <int kPerLane>
void launch_forward(float* output, float* row_log_sum_exp, const float* qkv, const HeadLayout& layout,
                    std::int64_t tasks, float scale) {
  LLC_LAUNCH(blocks_for(tasks, kWarps), kThreads, 0, kernel_stream(), attention_forward_kernel<kPerLane>)
  (output, row_log_sum_exp, qkv, layout, tasks, scale);
  LLC_CHECK_LAUNCH();
}

template <int kPerLane>
void launch_backward(float* d_qkv, float* row_dot, const float* d_output, const float* output,
                     const float* row_log_sum_exp, const float* qkv, const HeadLayout& layout, std::int64_t tasks,
                     float scale) {
  // The key kernel reads row_dot, which the query kernel writes: stream order.
  LLC_LAUNCH(blocks_for(tasks, kWarps), kThreads, 0, kernel_stream(), attention_backward_query_kernel<kPerLane>)
  (d_qkv, row_dot, d_output, output, row_log_sum_exp, qkv, layout, tasks, scale);
  LLC_CHECK_LAUNCH();
  LLC_LAUNCH(blocks_for(tasks, kWarps), kThreads, 0, kernel_stream(), attention_backward_key_kernel<kPerLane>)
  (d_qkv, row_dot, d_output, row_log_sum_exp, qkv, layout, tasks, scale);
  LLC_CHECK_LAUNCH();
}

}  // namespace

void check_attention_head_dim(int head_dim) {
  LLC_CHECK(head_dim > 0 && head_dim <= kMaxHeadDim, ::llcpress::BackendError, "attention",
            "the CUDA attention kernel supports head dimensions 1 … 256 (every Pythia model is within)",
            "head_dim = {} is not supported by the CUDA attention kernel", head_dim);
}

void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                       int heads, int head_dim) {
  check_attention_head_dim(head_dim);
  const std::int64_t tasks = batch * heads * seq_len;
  if (tasks <= 0) return;
  const HeadLayout layout{3LL * heads * head_dim, heads, head_dim, seq_len};
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  switch (features_per_lane(head_dim)) {
    case 1:
      launch_forward<1>(output, row_log_sum_exp, qkv, layout, tasks, scale);
      break;
    case 2:
      launch_forward<2>(output, row_log_sum_exp, qkv, layout, tasks, scale);
      break;
    case 4:
      launch_forward<4>(output, row_log_sum_exp, qkv, layout, tasks, scale);
      break;
    default:
      launch_forward<8>(output, row_log_sum_exp, qkv, layout, tasks, scale);
  }
}

void attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                        const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim) {
  check_attention_head_dim(head_dim);
  const std::int64_t tasks = batch * heads * seq_len;
  if (tasks <= 0) return;
  const HeadLayout layout{3LL * heads * head_dim, heads, head_dim, seq_len};
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const ScratchBuffer<float> row_dot_buffer(
      static_cast<std::size_t>(tasks));  // (batch, heads, seq_len): dO·O per query row
  float* row_dot = row_dot_buffer.data();
  switch (features_per_lane(head_dim)) {
    case 1:
      launch_backward<1>(d_qkv, row_dot, d_output, output, row_log_sum_exp, qkv, layout, tasks, scale);
      break;
    case 2:
      launch_backward<2>(d_qkv, row_dot, d_output, output, row_log_sum_exp, qkv, layout, tasks, scale);
      break;
    case 4:
      launch_backward<4>(d_qkv, row_dot, d_output, output, row_log_sum_exp, qkv, layout, tasks, scale);
      break;
    default:
      launch_backward<8>(d_qkv, row_dot, d_output, output, row_log_sum_exp, qkv, layout, tasks, scale);
  }
}

}  // namespace llcpress::cuda
