// Rotary position embedding (RoPE), GPT-NeoX's partial rotate-half form
// (REFERENCE §1): on the first `rotary_dims` features of each head's query and
// key, for j < r/2 with angle θ = position · inv_freq[j],
//   out[j]       = x[j]·cos θ − x[j + r/2]·sin θ
//   out[j + r/2] = x[j + r/2]·cos θ + x[j]·sin θ,
// features r..head_dim pass through. Values are untouched.
#pragma once

#include <cstdint>

namespace llcpress::ops {

// cos_table, sin_table: (max_positions, rotary_dims / 2). inv_freq[j] =
// 1 / base^(2j / rotary_dims) and the angles are evaluated in fp32 exactly as
// transformers does (fp32 exponent, fp32 product position · inv_freq), then
// cos/sin rounded to fp32 — so positions far from 0 see the same angles.
void rotary_tables(float* cos_table, float* sin_table, int max_positions, int rotary_dims, double base);

// qkv: (batch · seq_len, 3 · heads · head_dim), IN PLACE; each head's 3·head_dim
// block holds q, k, v (per-head interleaved fused QKV). Token t of a sequence
// has position t. cos_table, sin_table: (≥ seq_len, rotary_dims / 2).
void rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                    int heads, int head_dim, int rotary_dims);

// d_qkv: (batch · seq_len, 3 · heads · head_dim), IN PLACE: the gradient with
// respect to the rotated q, k becomes the gradient with respect to the
// unrotated ones (the rotation is orthogonal, so this applies its transpose).
void rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                     int heads, int head_dim, int rotary_dims);

}  // namespace llcpress::ops
