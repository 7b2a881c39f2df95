// Causal multi-head self-attention on the fused, per-head-interleaved QKV of
// GPT-NeoX (REFERENCE §1): head h of a row owns features [h·3d, (h+1)·3d) laid
// out q (d), k (d), v (d). softmax(q·kᵀ/√d + causal mask) · v, heads
// concatenated in order.
//
// Memory: the (T × T) attention matrices are never stored. The forward pass
// keeps one log-sum-exp per query row; the backward pass recomputes each block
// of probabilities from it (as FlashAttention does), so activation memory is
// O(B·heads·T) instead of O(B·heads·T²) at the cost of one extra q·kᵀ product.
//
// Work: one task per (sequence, head), run start to finish by one thread. The
// task first copies its head's q, k, v (and kᵀ, vᵀ, d_out) into contiguous
// per-thread buffers padded to whole 8-float vectors, then walks the query rows
// in blocks of kQueryBlock against the keys up to the block's last row. All
// products are done by one register-blocked micro-kernel (4 rows × up to 24
// columns of 8-float FMA accumulators) that stops each reduction at the causal
// edge, so the masked upper triangle is skipped instead of computed and zeroed;
// scale, mask, exp and row sum are one vectorised pass per row. Because a task
// never splits, every output (dk and dv sums included) is computed in the same
// order for any OpenMP thread count: results are bit-identical across thread
// counts.
#pragma once

#include <cstdint>
#include <vector>

#include "model/aligned_allocator.h"

namespace llcpress::ops {

inline constexpr int kQueryBlock = 64;

// Per-thread scratch for up to `max_seq_len` keys, sized for the OpenMP thread
// count at construction (attention then runs on at most that many threads).
// The per-head packed copies depend on head_dim: pass it to size everything at
// construction, or leave it 0 and the first attention call sizes them once
// (later calls with the same or smaller head_dim allocate nothing).
class AttentionWorkspace {
 public:
  explicit AttentionWorkspace(int max_seq_len, int head_dim = 0);
  int threads() const { return threads_; }
  int max_seq_len() const { return max_seq_len_; }
  std::size_t bytes() const { return buffer_.size() * sizeof(float); }

  // Grows the per-thread buffers to fit heads of `head_dim` (no-op when they
  // already do). Not thread-safe; the attention ops call it before their
  // parallel region.
  void reserve_head_dim(int head_dim);
  // Thread `thread`'s scratch: 2 · kQueryBlock · padded_keys() floats for the
  // probability and score-gradient blocks, then the packed per-head matrices.
  float* thread_buffer(int thread) { return buffer_.data() + static_cast<std::size_t>(thread) * thread_floats_; }
  // max_seq_len rounded up to whole 8-float vectors.
  int padded_keys() const { return (max_seq_len_ + 7) / 8 * 8; }

 private:
  int threads_;
  int max_seq_len_;
  int padded_head_dim_ = 0;  // head_dim rounded up to whole 8-float vectors, as sized
  std::size_t thread_floats_ = 0;
  AlignedVector<float> buffer_;  // (threads, thread_floats_)
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
