// Rotary position embedding on the GPU: the CPU twin's (model/ops/rotary.h)
// names, signatures and buffer conventions, with device pointers. The cos/sin
// tables are built on the host by ops::rotary_tables and uploaded once.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// qkv: (batch · seq_len, 3 · heads · head_dim), IN PLACE; cos_table,
// sin_table: (≥ seq_len, rotary_dims / 2), device.
void rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                    int heads, int head_dim, int rotary_dims);

// d_qkv: (batch · seq_len, 3 · heads · head_dim), IN PLACE (the transpose rotation).
void rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                     int heads, int head_dim, int rotary_dims);

}  // namespace llcpress::cuda
