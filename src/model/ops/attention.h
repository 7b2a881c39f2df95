// Causal multi-head self-attention on the fused, per-head-interleaved QKV of
// GPT-NeoX (REFERENCE §1): head h of a row owns features [h·3d, (h+1)·3d) laid
// out q (d), k (d), v (d). softmax(q·kᵀ/√d + causal mask) · v, heads
// concatenated in order.
//
// Memory: the (T × T) attention matrices are never stored. The forward pass
// keeps one log-sum-exp per query row; the backward pass recomputes each block
// of probabilities from it (as FlashAttention does), so activation memory is
// O(B·heads·T) instead of O(B·heads·T²) at the cost of one extra q·kᵀ GEMM.
// Query rows are processed in blocks of kQueryBlock against the keys up to the
// block's last row, which skips most of the masked upper triangle.
#pragma once

#include <cstdint>
#include <vector>

#include "model/aligned_allocator.h"

namespace llcpress::ops {

inline constexpr int kQueryBlock = 64;

// Per-thread scratch for up to `max_seq_len` keys, sized for the OpenMP thread
// count at construction (attention then runs on at most that many threads).
class AttentionWorkspace {
 public:
  explicit AttentionWorkspace(int max_seq_len);
  int threads() const { return threads_; }
  int max_seq_len() const { return max_seq_len_; }
  float* probabilities(int thread) { return buffer_.data() + static_cast<std::size_t>(thread) * 2 * block_floats(); }
  float* d_scores(int thread) { return probabilities(thread) + block_floats(); }
  std::size_t bytes() const { return buffer_.size() * sizeof(float); }

 private:
  std::size_t block_floats() const { return static_cast<std::size_t>(kQueryBlock) * max_seq_len_; }
  int threads_;
  int max_seq_len_;
  AlignedVector<float> buffer_;  // (threads, 2, kQueryBlock, max_seq_len)
};

// output: (batch · seq_len, heads · head_dim), heads concatenated, WRITTEN;
// row_log_sum_exp: (batch, heads, seq_len), the log-sum-exp of each query
// row's scaled, masked scores, WRITTEN (for the backward pass);
// qkv: (batch · seq_len, 3 · heads · head_dim), after rotary.
void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                       int heads, int head_dim, AttentionWorkspace& workspace);

// d_qkv: (batch · seq_len, 3 · heads · head_dim), WRITTEN (q, k and v parts);
// d_output: (batch · seq_len, heads · head_dim); output, row_log_sum_exp, qkv
// as produced and consumed by the forward pass.
void attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                        const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim,
                        AttentionWorkspace& workspace);

}  // namespace llcpress::ops
