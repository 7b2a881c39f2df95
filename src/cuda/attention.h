// Causal multi-head self-attention on the GPU: the CPU twin's
// (model/ops/attention.h) layout and buffer conventions, with device pointers.
// The CPU ops take an AttentionWorkspace (per-thread packing buffers); these
// need none: the backward's one scratch row (B·heads·T floats) is
// stream-ordered allocated and freed inside the call.
//
// This is the fp32 parity kernel: one warp per query row (forward, dQ) or
// key row (dK, dV); the lanes take 32 keys (queries) of a tile at a time,
// with an online softmax over the tiles, so nothing of size T² is stored —
// the forward keeps one log-sum-exp per query row and the backward recomputes
// the probabilities from it, as the CPU op does. Every output element is
// written by one warp in a fixed order (no atomics): deterministic. Head
// dimensions up to 256.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// BackendError unless 1 ≤ head_dim ≤ 256 (what the kernels support).
void check_attention_head_dim(int head_dim);

// output: (batch · seq_len, heads · head_dim), WRITTEN; row_log_sum_exp:
// (batch, heads, seq_len), WRITTEN; qkv: (batch · seq_len, 3 · heads ·
// head_dim), after rotary.
void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                       int heads, int head_dim);

// d_qkv: (batch · seq_len, 3 · heads · head_dim), WRITTEN (q, k and v parts);
// d_output: (batch · seq_len, heads · head_dim); output, row_log_sum_exp, qkv
// as produced and consumed by the forward pass.
void attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                        const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim);

}  // namespace llcpress::cuda
