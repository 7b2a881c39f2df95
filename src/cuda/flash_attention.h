// Causal multi-head self-attention on the GPU, the fused ("flash") kernels:
// the same op as cuda/attention.h (names, argument order, layouts and the
// saved per-row log-sum-exp), organised for speed.
//
// Forward: a block owns a tile of query rows of one (sequence, head); the
// K and V rows of each tile of 32 keys are staged once in shared memory and
// used by every query row of the block (the parity kernel reads them once per
// query row), with an online softmax across key tiles. The T×T score matrix
// is never stored; the forward saves only the log-sum-exp of each row.
// Backward (FlashAttention-2's scheme, without its atomics): D = rowsum(dO∘O)
// once per query row; then one kernel per key tile accumulates dK and dV over
// the query tiles at or below the diagonal, and one per query tile
// accumulates dQ over the key tiles, each recomputing the tile probabilities
// P = exp(q·k/√d − lse) from the saved log-sum-exp. Every output element is
// written by one thread, its sum formed in an order fixed by the sizes: no
// floating-point atomics, the same bits on every run.
//
// fp32 inputs and fp32 arithmetic. Head dimensions up to 128 (every Pythia
// model but Pythia-1b, whose 256 goes to the parity kernel: CudaBackend
// chooses); check_flash_attention_head_dim says so for anything else.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// The largest head dimension the fused kernels take (their shared-memory
// tiles stay within the 48 KiB every GPU gives a block without opt-in).
inline constexpr int kFlashAttentionMaxHeadDim = 128;

// True when the fused kernels handle heads of `head_dim` features.
bool flash_attention_supports(int head_dim);

// output: (batch · seq_len, heads · head_dim), WRITTEN; row_log_sum_exp:
// (batch, heads, seq_len), WRITTEN; qkv: (batch · seq_len, 3 · heads ·
// head_dim), after rotary. BackendError unless flash_attention_supports.
void flash_attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                             int heads, int head_dim);

// d_qkv: (batch · seq_len, 3 · heads · head_dim), WRITTEN (q, k and v parts);
// d_output: (batch · seq_len, heads · head_dim); output, row_log_sum_exp, qkv
// as produced and consumed by either forward kernel (they save the same
// quantities).
void flash_attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                              const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim);

}  // namespace llcpress::cuda
