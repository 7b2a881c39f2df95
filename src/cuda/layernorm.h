// Layer normalisation on the GPU: the CPU twin's (model/ops/layernorm.h)
// names, signatures and buffer conventions, with device pointers.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// output: (rows, hidden); mean, rstd: (rows), kept for the backward pass;
// input: (rows, hidden); weight, bias: (hidden).
void layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                       const float* bias, std::int64_t rows, int hidden, float eps);

// d_input: (rows, hidden), ACCUMULATED (+=); d_weight, d_bias: (hidden),
// WRITTEN; d_output: (rows, hidden); input, mean, rstd, weight as in the
// forward pass.
void layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                        const float* mean, const float* rstd, const float* weight, std::int64_t rows, int hidden);

}  // namespace llcpress::cuda
