#include <cmath>

#include "cuda/block_reduce.h"
#include "cuda/flash_attention.h"
#include "cuda/kernel_launch.h"
#include "cuda/scratch_buffer.h"

namespace llcpress::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kTile = 32;  // keys per K/V tile (forward, dQ) and queries per Q tile (dK/dV): one per lane
// Shared memory a block may use without cudaFuncSetAttribute opt-in.
constexpr std::size_t kSharedLimitBytes = 48 * 1024;

// Where the q (+0), k (+head_dim) and v (+2·head_dim) features of token
// `position` of sequence `b`, head `head` start in the fused QKV rows, and
// where its output row and its log-sum-exp entry are.
struct HeadLayout {
  std::int64_t row_width;  // 3 · heads · head_dim
  int heads, head_dim, seq_len;
  __device__ __forceinline__ std::int64_t qkv(std::int64_t b, int position, int head) const {
    return (b * seq_len + position) * row_width + static_cast<std::int64_t>(head) * 3 * head_dim;
  }
  __device__ __forceinline__ std::int64_t out(std::int64_t b, int position, int head) const {
    return (b * seq_len + position) * heads * head_dim + static_cast<std::int64_t>(head) * head_dim;
  }
};

__device__ __forceinline__ int min_int(int a, int b) { return a < b ? a : b; }

// rows × width floats of one (sequence, head) into shared memory with row
// stride `stride`, from QKV part `part` (0 q, 1 k, 2 v); rows at or past
// seq_len are zero-filled (they are masked, zero keeps them finite).
__device__ __forceinline__ void load_qkv_tile(float* tile, int stride, const float* qkv, const HeadLayout& layout,
                                              std::int64_t b, int head, int first, int rows, int part) {
  const int d = layout.head_dim;
  for (int e = static_cast<int>(threadIdx.x); e < rows * d; e += kThreads) {
    const int r = e / d, i = e % d, position = first + r;
    tile[r * stride + i] = position < layout.seq_len ? qkv[layout.qkv(b, position, head) + part * d + i] : 0.0f;
  }
}

// As load_qkv_tile for rows of a (batch · seq_len, heads · head_dim) tensor
// (the output or its gradient).
__device__ __forceinline__ void load_out_tile(float* tile, int stride, const float* source, const HeadLayout& layout,
                                              std::int64_t b, int head, int first, int rows) {
  const int d = layout.head_dim;
  for (int e = static_cast<int>(threadIdx.x); e < rows * d; e += kThreads) {
    const int r = e / d, i = e % d, position = first + r;
    tile[r * stride + i] = position < layout.seq_len ? source[layout.out(b, position, head) + i] : 0.0f;
  }
}

// ------------------------------------------------------------------ forward
// Block = one tile of kRows = kWarps · kRowsPerWarp query rows of one
// (sequence, head); warp w owns rows w·kRowsPerWarp …; lane j scores key j of
// each 32-key tile, and owns output features lane + 32·i, i < kPerLane.
// Shared: q (kRows, d), k (32, d + 1: lane j walks row j, the +1 keeps the 32
// lanes on 32 banks), v (32, d).
template <int kPerLane, int kRowsPerWarp>
__global__ void __launch_bounds__(kThreads)
    flash_attention_forward_kernel(float* output, float* row_log_sum_exp, const float* qkv, HeadLayout layout,
                                   int query_tiles, float scale) {
  constexpr int kRows = kWarps * kRowsPerWarp;
  const int d = layout.head_dim, seq_len = layout.seq_len;
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t sequence_head = blockIdx.x / query_tiles;
  const int first_query = static_cast<int>(blockIdx.x % query_tiles) * kRows;
  const std::int64_t b = sequence_head / layout.heads;
  const int head = static_cast<int>(sequence_head % layout.heads);
  float* q_tile = dynamic_shared<float>();   // (kRows, d)
  float* k_tile = q_tile + kRows * d;        // (32, d + 1)
  float* v_tile = k_tile + kTile * (d + 1);  // (32, d)
  load_qkv_tile(q_tile, d, qkv, layout, b, head, first_query, kRows, 0);

  // Rows past seq_len (the last tile's padding) compute as row seq_len − 1
  // and are not written: every row then has key 0 … first_query valid, so the
  // running maximum is finite from the first tile on (key tiles start at
  // multiples of 32 ≤ first_query, as kRows divides 32).
  const int first_row = warp * kRowsPerWarp;
  int last_key[kRowsPerWarp];  // the causal bound of each of this warp's rows
  for (int r = 0; r < kRowsPerWarp; ++r) last_key[r] = min_int(first_query + first_row + r, seq_len - 1);
  const int block_last_key = min_int(first_query + kRows, seq_len) - 1;
  float running_max[kRowsPerWarp], running_sum[kRowsPerWarp], accumulator[kRowsPerWarp][kPerLane];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    running_max[r] = -INFINITY;
    running_sum[r] = 0.0f;
    for (int i = 0; i < kPerLane; ++i) accumulator[r][i] = 0.0f;
  }
  for (int first_key = 0; first_key <= block_last_key; first_key += kTile) {
    __syncthreads();  // the previous tile's readers are done (and the q tile is written)
    load_qkv_tile(k_tile, d + 1, qkv, layout, b, head, first_key, kTile, 1);
    load_qkv_tile(v_tile, d, qkv, layout, b, head, first_key, kTile, 2);
    __syncthreads();
    const int key = first_key + lane;
    float score[kRowsPerWarp];
    for (int r = 0; r < kRowsPerWarp; ++r) score[r] = 0.0f;
    const float* k_row = k_tile + lane * (d + 1);
    for (int i = 0; i < d; ++i) {
      const float k_value = k_row[i];
      for (int r = 0; r < kRowsPerWarp; ++r) score[r] += q_tile[(first_row + r) * d + i] * k_value;
    }
    float probability[kRowsPerWarp];
    for (int r = 0; r < kRowsPerWarp; ++r) {
      // torch scales q·kᵀ after the product; so do the CPU op and this kernel.
      const float masked_score = key <= last_key[r] ? score[r] * scale : -INFINITY;
      const float new_max = fmaxf(running_max[r], warp_max(masked_score));
      probability[r] = key <= last_key[r] ? expf(masked_score - new_max) : 0.0f;
      const float correction = expf(running_max[r] - new_max);  // 0 on the first tile
      running_sum[r] = running_sum[r] * correction + warp_sum(probability[r]);
      for (int i = 0; i < kPerLane; ++i) accumulator[r][i] *= correction;
      running_max[r] = new_max;
    }
    // Keys past the warp's last row have probability 0 for all its rows.
    const int keys = min_int(kTile, last_key[kRowsPerWarp - 1] - first_key + 1);  // warp-uniform
    for (int j = 0; j < keys; ++j) {
      const float* v_row = v_tile + j * d;
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float p = __shfl_sync(kFullWarp, probability[r], j);
        for (int i = 0; i < kPerLane; ++i)
          if (lane + 32 * i < d) accumulator[r][i] += p * v_row[lane + 32 * i];
      }
    }
  }
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int query = first_query + first_row + r;
    if (query >= seq_len) continue;  // warp-uniform
    float* out = output + layout.out(b, query, head);
    for (int i = 0; i < kPerLane; ++i)
      if (lane + 32 * i < d) out[lane + 32 * i] = accumulator[r][i] / running_sum[r];
    if (lane == 0) row_log_sum_exp[sequence_head * seq_len + query] = running_max[r] + logf(running_sum[r]);
  }
}

// ------------------------------------------------------------------ backward
// D_t = dO_t · O_t for every (sequence, head, query) row: one warp per row,
// rows in log-sum-exp order.
__global__ void __launch_bounds__(kThreads)
    flash_attention_row_dot_kernel(float* row_dot, const float* d_output, const float* output, HeadLayout layout,
                                   std::int64_t rows) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t task = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (task >= rows) return;  // whole warps only
  const int t = static_cast<int>(task % layout.seq_len);
  const int head = static_cast<int>((task / layout.seq_len) % layout.heads);
  const std::int64_t b = task / layout.seq_len / layout.heads;
  const std::int64_t offset = layout.out(b, t, head);
  float partial = 0.0f;
  for (int i = lane; i < layout.head_dim; i += 32) partial += d_output[offset + i] * output[offset + i];
  const float total = warp_sum(partial);
  if (lane == 0) row_dot[task] = total;
}

// dQ_t = Σ_{j ≤ t} dS_tj k_j, dS_tj = P_tj (dO_t·v_j − D_t) · scale: the
// forward's blocking (query rows per warp, 32 keys per tile on the lanes).
// Shared: q, dO (kRows, d); k, v (32, d + 1).
template <int kPerLane, int kRowsPerWarp>
__global__ void __launch_bounds__(kThreads)
    flash_attention_backward_query_kernel(float* d_qkv, const float* row_dot, const float* d_output,
                                          const float* row_log_sum_exp, const float* qkv, HeadLayout layout,
                                          int query_tiles, float scale) {
  constexpr int kRows = kWarps * kRowsPerWarp;
  const int d = layout.head_dim, seq_len = layout.seq_len;
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t sequence_head = blockIdx.x / query_tiles;
  const int first_query = static_cast<int>(blockIdx.x % query_tiles) * kRows;
  const std::int64_t b = sequence_head / layout.heads;
  const int head = static_cast<int>(sequence_head % layout.heads);
  float* q_tile = dynamic_shared<float>();   // (kRows, d)
  float* d_out_tile = q_tile + kRows * d;    // (kRows, d)
  float* k_tile = d_out_tile + kRows * d;    // (32, d + 1)
  float* v_tile = k_tile + kTile * (d + 1);  // (32, d + 1)
  load_qkv_tile(q_tile, d, qkv, layout, b, head, first_query, kRows, 0);
  load_out_tile(d_out_tile, d, d_output, layout, b, head, first_query, kRows);

  const int first_row = warp * kRowsPerWarp;
  int last_key[kRowsPerWarp];
  float lse[kRowsPerWarp], dot_d[kRowsPerWarp], accumulator[kRowsPerWarp][kPerLane];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    last_key[r] = min_int(first_query + first_row + r, seq_len - 1);  // padding rows: as in the forward
    lse[r] = row_log_sum_exp[sequence_head * seq_len + last_key[r]];
    dot_d[r] = row_dot[sequence_head * seq_len + last_key[r]];
    for (int i = 0; i < kPerLane; ++i) accumulator[r][i] = 0.0f;
  }
  const int block_last_key = min_int(first_query + kRows, seq_len) - 1;
  for (int first_key = 0; first_key <= block_last_key; first_key += kTile) {
    __syncthreads();
    load_qkv_tile(k_tile, d + 1, qkv, layout, b, head, first_key, kTile, 1);
    load_qkv_tile(v_tile, d + 1, qkv, layout, b, head, first_key, kTile, 2);
    __syncthreads();
    const int key = first_key + lane;
    const float* k_row = k_tile + lane * (d + 1);
    const float* v_row = v_tile + lane * (d + 1);
    float score[kRowsPerWarp], d_probability[kRowsPerWarp];
    for (int r = 0; r < kRowsPerWarp; ++r) score[r] = d_probability[r] = 0.0f;
    for (int i = 0; i < d; ++i) {
      const float k_value = k_row[i], v_value = v_row[i];
      for (int r = 0; r < kRowsPerWarp; ++r) {
        score[r] += q_tile[(first_row + r) * d + i] * k_value;
        d_probability[r] += d_out_tile[(first_row + r) * d + i] * v_value;
      }
    }
    float d_score[kRowsPerWarp];
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const float p = key <= last_key[r] ? expf(score[r] * scale - lse[r]) : 0.0f;
      d_score[r] = p * (d_probability[r] - dot_d[r]) * scale;
    }
    const int keys = min_int(kTile, last_key[kRowsPerWarp - 1] - first_key + 1);
    for (int j = 0; j < keys; ++j) {
      const float* k_j = k_tile + j * (d + 1);
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float ds = __shfl_sync(kFullWarp, d_score[r], j);
        for (int i = 0; i < kPerLane; ++i)
          if (lane + 32 * i < d) accumulator[r][i] += ds * k_j[lane + 32 * i];
      }
    }
  }
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int query = first_query + first_row + r;
    if (query >= seq_len) continue;
    float* dq = d_qkv + layout.qkv(b, query, head);
    for (int i = 0; i < kPerLane; ++i)
      if (lane + 32 * i < d) dq[lane + 32 * i] = accumulator[r][i];
  }
}

// dV_j = Σ_{i ≥ j} P_ij dO_i, dK_j = Σ_{i ≥ j} dS_ij q_i. Block = kKeys =
// kWarps · kKeysPerWarp keys of one (sequence, head); warp w owns keys
// w·kKeysPerWarp …; lane i takes query i of each 32-query tile, from the tile
// holding the block's first key to the end of the sequence.
// Shared: k, v (kKeys, d); q, dO (32, d + 1); lse, D (32).
template <int kPerLane, int kKeysPerWarp>
__global__ void __launch_bounds__(kThreads)
    flash_attention_backward_key_kernel(float* d_qkv, const float* row_dot, const float* d_output,
                                        const float* row_log_sum_exp, const float* qkv, HeadLayout layout,
                                        int key_tiles, float scale) {
  constexpr int kKeys = kWarps * kKeysPerWarp;
  const int d = layout.head_dim, seq_len = layout.seq_len;
  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  const std::int64_t sequence_head = blockIdx.x / key_tiles;
  const int first_key = static_cast<int>(blockIdx.x % key_tiles) * kKeys;
  const std::int64_t b = sequence_head / layout.heads;
  const int head = static_cast<int>(sequence_head % layout.heads);
  float* k_tile = dynamic_shared<float>();         // (kKeys, d)
  float* v_tile = k_tile + kKeys * d;              // (kKeys, d)
  float* q_tile = v_tile + kKeys * d;              // (32, d + 1)
  float* d_out_tile = q_tile + kTile * (d + 1);    // (32, d + 1)
  float* lse_tile = d_out_tile + kTile * (d + 1);  // (32)
  float* dot_tile = lse_tile + kTile;              // (32)
  load_qkv_tile(k_tile, d, qkv, layout, b, head, first_key, kKeys, 1);
  load_qkv_tile(v_tile, d, qkv, layout, b, head, first_key, kKeys, 2);

  const int first_own = warp * kKeysPerWarp;
  float d_key[kKeysPerWarp][kPerLane], d_value[kKeysPerWarp][kPerLane];
  for (int k = 0; k < kKeysPerWarp; ++k)
    for (int i = 0; i < kPerLane; ++i) d_key[k][i] = d_value[k][i] = 0.0f;
  // Queries before the block's first key see none of its keys (causal).
  for (int first_query = first_key / kTile * kTile; first_query < seq_len; first_query += kTile) {
    __syncthreads();  // the previous tile's readers are done (and k, v are written)
    load_qkv_tile(q_tile, d + 1, qkv, layout, b, head, first_query, kTile, 0);
    load_out_tile(d_out_tile, d + 1, d_output, layout, b, head, first_query, kTile);
    if (threadIdx.x < kTile) {
      const int query = first_query + static_cast<int>(threadIdx.x);
      lse_tile[threadIdx.x] = query < seq_len ? row_log_sum_exp[sequence_head * seq_len + query] : 0.0f;
      dot_tile[threadIdx.x] = query < seq_len ? row_dot[sequence_head * seq_len + query] : 0.0f;
    }
    __syncthreads();
    const int query = first_query + lane;
    const float* q_row = q_tile + lane * (d + 1);
    const float* d_out_row = d_out_tile + lane * (d + 1);
    float score[kKeysPerWarp], d_probability[kKeysPerWarp];
    for (int k = 0; k < kKeysPerWarp; ++k) score[k] = d_probability[k] = 0.0f;
    for (int i = 0; i < d; ++i) {
      const float q_value = q_row[i], d_out_value = d_out_row[i];
      for (int k = 0; k < kKeysPerWarp; ++k) {
        score[k] += q_value * k_tile[(first_own + k) * d + i];
        d_probability[k] += d_out_value * v_tile[(first_own + k) * d + i];
      }
    }
    float probability[kKeysPerWarp], d_score[kKeysPerWarp];
    for (int k = 0; k < kKeysPerWarp; ++k) {
      const int key = first_key + first_own + k;
      const bool visible = query < seq_len && key <= query;  // keys past seq_len: no query sees them
      probability[k] = visible ? expf(score[k] * scale - lse_tile[lane]) : 0.0f;
      d_score[k] = probability[k] * (d_probability[k] - dot_tile[lane]) * scale;
    }
    const int queries = min_int(kTile, seq_len - first_query);  // warp-uniform
    for (int r = 0; r < queries; ++r) {
      const float* q_r = q_tile + r * (d + 1);
      const float* d_out_r = d_out_tile + r * (d + 1);
      for (int k = 0; k < kKeysPerWarp; ++k) {
        const float p = __shfl_sync(kFullWarp, probability[k], r);
        const float ds = __shfl_sync(kFullWarp, d_score[k], r);
        for (int i = 0; i < kPerLane; ++i)
          if (lane + 32 * i < d) {
            d_value[k][i] += p * d_out_r[lane + 32 * i];
            d_key[k][i] += ds * q_r[lane + 32 * i];
          }
      }
    }
  }
  for (int k = 0; k < kKeysPerWarp; ++k) {
    const int key = first_key + first_own + k;
    if (key >= seq_len) continue;  // warp-uniform
    float* dk = d_qkv + layout.qkv(b, key, head) + d;
    for (int i = 0; i < kPerLane; ++i)
      if (lane + 32 * i < d) {
        dk[lane + 32 * i] = d_key[k][i];
        dk[d + lane + 32 * i] = d_value[k][i];  // v follows k
      }
  }
}

// ------------------------------------------------------------------ launchers
// Rows (keys) per warp by features per lane: as many as keep a block's
// shared tiles within 48 KiB at the largest head_dim of each instantiation
// (32, 64, 128); the sizes are checked again at launch.
constexpr int forward_rows_per_warp(int per_lane) { return per_lane >= 4 ? 2 : 4; }
constexpr int query_rows_per_warp(int per_lane) { return per_lane >= 4 ? 1 : 4; }
constexpr int keys_per_warp(int per_lane) { return per_lane >= 4 ? 1 : 4; }

std::size_t checked_shared_bytes(std::size_t floats) {
  const std::size_t bytes = floats * sizeof(float);
  LLC_CHECK(bytes <= kSharedLimitBytes, ::llcpress::BackendError, "flash_attention",
            "a kernel bug: the tile sizes must keep within 48 KiB of shared memory",
            "fused attention needs {} bytes of shared memory per block, more than {}", bytes, kSharedLimitBytes);
  return bytes;
}

int tiles_of(int count, int per_tile) { return (count + per_tile - 1) / per_tile; }

template <int kPerLane>
void launch_forward(float* output, float* row_log_sum_exp, const float* qkv, const HeadLayout& layout,
                    std::int64_t sequence_heads, float scale) {
  constexpr int kRowsPerWarp = forward_rows_per_warp(kPerLane), kRows = kWarps * kRowsPerWarp;
  const int d = layout.head_dim;
  const int query_tiles = tiles_of(layout.seq_len, kRows);
  const std::size_t shared = checked_shared_bytes(static_cast<std::size_t>(kRows) * d + kTile * (d + 1) + kTile * d);
  LLC_LAUNCH(blocks_for(sequence_heads * query_tiles, 1), kThreads, shared, kernel_stream(),
             flash_attention_forward_kernel<kPerLane, kRowsPerWarp>)
  (output, row_log_sum_exp, qkv, layout, query_tiles, scale);
  LLC_CHECK_LAUNCH();
}

template <int kPerLane>
void launch_backward(float* d_qkv, const float* row_dot, const float* d_output, const float* row_log_sum_exp,
                     const float* qkv, const HeadLayout& layout, std::int64_t sequence_heads, float scale) {
  const int d = layout.head_dim;
  constexpr int kRowsPerWarp = query_rows_per_warp(kPerLane), kRows = kWarps * kRowsPerWarp;
  const int query_tiles = tiles_of(layout.seq_len, kRows);
  const std::size_t query_shared = checked_shared_bytes(2 * static_cast<std::size_t>(kRows) * d + 2 * kTile * (d + 1));
  LLC_LAUNCH(blocks_for(sequence_heads * query_tiles, 1), kThreads, query_shared, kernel_stream(),
             flash_attention_backward_query_kernel<kPerLane, kRowsPerWarp>)
  (d_qkv, row_dot, d_output, row_log_sum_exp, qkv, layout, query_tiles, scale);
  LLC_CHECK_LAUNCH();
  constexpr int kKeysPerWarp = keys_per_warp(kPerLane), kKeys = kWarps * kKeysPerWarp;
  const int key_tiles = tiles_of(layout.seq_len, kKeys);
  const std::size_t key_shared =
      checked_shared_bytes(2 * static_cast<std::size_t>(kKeys) * d + 2 * kTile * (d + 1) + 2 * kTile);
  LLC_LAUNCH(blocks_for(sequence_heads * key_tiles, 1), kThreads, key_shared, kernel_stream(),
             flash_attention_backward_key_kernel<kPerLane, kKeysPerWarp>)
  (d_qkv, row_dot, d_output, row_log_sum_exp, qkv, layout, key_tiles, scale);
  LLC_CHECK_LAUNCH();
}

// Features per lane, ⌈head_dim / 32⌉ rounded up to 1, 2 or 4.
int features_per_lane(int head_dim) {
  const int needed = (head_dim + 31) / 32;
  return needed <= 1 ? 1 : needed <= 2 ? 2 : 4;
}

void check_head_dim(int head_dim) {
  LLC_CHECK(flash_attention_supports(head_dim), ::llcpress::BackendError, "flash_attention",
            "use cuda::attention_forward/backward (the parity kernel, head_dim ≤ 256); CudaBackend does so by itself",
            "the fused attention kernel supports head dimensions 1 … {}, not {}", kFlashAttentionMaxHeadDim, head_dim);
}

}  // namespace

bool flash_attention_supports(int head_dim) { return head_dim > 0 && head_dim <= kFlashAttentionMaxHeadDim; }

void flash_attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                             int heads, int head_dim) {
  check_head_dim(head_dim);
  const std::int64_t sequence_heads = batch * heads;
  if (sequence_heads <= 0 || seq_len <= 0) return;
  const HeadLayout layout{3LL * heads * head_dim, heads, head_dim, seq_len};
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  switch (features_per_lane(head_dim)) {
    case 1:
      launch_forward<1>(output, row_log_sum_exp, qkv, layout, sequence_heads, scale);
      break;
    case 2:
      launch_forward<2>(output, row_log_sum_exp, qkv, layout, sequence_heads, scale);
      break;
    default:
      launch_forward<4>(output, row_log_sum_exp, qkv, layout, sequence_heads, scale);
  }
}

void flash_attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                              const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim) {
  check_head_dim(head_dim);
  const std::int64_t sequence_heads = batch * heads;
  if (sequence_heads <= 0 || seq_len <= 0) return;
  const HeadLayout layout{3LL * heads * head_dim, heads, head_dim, seq_len};
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t rows = sequence_heads * seq_len;
  const ScratchBuffer<float> row_dot_buffer(static_cast<std::size_t>(rows));  // (batch, heads, seq_len): D = dO·O
  float* row_dot = row_dot_buffer.data();
  LLC_LAUNCH(blocks_for(rows, kWarps), kThreads, 0, kernel_stream(), flash_attention_row_dot_kernel)
  (row_dot, d_output, output, layout, rows);
  LLC_CHECK_LAUNCH();
  // Both gradient kernels read row_dot: stream order after the kernel above.
  switch (features_per_lane(head_dim)) {
    case 1:
      launch_backward<1>(d_qkv, row_dot, d_output, row_log_sum_exp, qkv, layout, sequence_heads, scale);
      break;
    case 2:
      launch_backward<2>(d_qkv, row_dot, d_output, row_log_sum_exp, qkv, layout, sequence_heads, scale);
      break;
    default:
      launch_backward<4>(d_qkv, row_dot, d_output, row_log_sum_exp, qkv, layout, sequence_heads, scale);
  }
}

}  // namespace llcpress::cuda
