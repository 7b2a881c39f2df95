// The residual add fused with the layer norm that reads its result, on the
// GPU: sum = input + residual, output = LayerNorm(sum), in one pass over the
// row (the CPU twin, CpuBackend::residual_layernorm_forward, adds and then
// calls ops::layernorm_forward). Same names and argument order as the
// Backend ops (backend/backend.h), device pointers.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// sum: (rows, hidden), WRITTEN = input + residual (may alias input or
// residual: each element is read before the same thread writes it); output:
// (rows, hidden), WRITTEN; mean, rstd: (rows), WRITTEN, the statistics of
// `sum` (for the backward pass); input, residual: (rows, hidden); weight,
// bias: (hidden).
void residual_layernorm_forward(float* sum, float* output, float* mean, float* rstd, const float* input,
                                const float* residual, const float* weight, const float* bias, std::int64_t rows,
                                int hidden, float eps);

// d_sum: (rows, hidden), ACCUMULATED — the gradient of `input` and of
// `residual` alike (the add passes it to both unchanged); d_weight, d_bias:
// (hidden), WRITTEN; d_output: (rows, hidden); sum, mean, rstd, weight as in
// the forward pass. The add's backward is the identity, so this is
// layernorm_backward on `sum`: there is no second pass over the row to fuse.
void residual_layernorm_backward(float* d_sum, float* d_weight, float* d_bias, const float* d_output, const float* sum,
                                 const float* mean, const float* rstd, const float* weight, std::int64_t rows,
                                 int hidden);

}  // namespace llcpress::cuda
