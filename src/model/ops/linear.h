// Fully connected layer as torch.nn.Linear: y = x · Wᵀ + b with W stored
// row-major [out, in] (the checkpoint layout). One GEMM (ops/gemm.h) each way.
#pragma once

#include <cstdint>

namespace llcpress::ops {

// output: (rows, out_features), WRITTEN, or ACCUMULATED (+=) when
// `accumulate` (how a residual branch adds itself to the stream without a
// separate pass); input: (rows, in_features); weight: (out_features,
// in_features); bias: (out_features) or nullptr for none.
void linear_forward(float* output, const float* input, const float* weight, const float* bias, std::int64_t rows,
                    int in_features, int out_features, bool accumulate = false);

// d_input: (rows, in_features) = d_output · W, WRITTEN (nullptr: skip);
// d_weight: (out_features, in_features) = d_outputᵀ · input, WRITTEN;
// d_bias: (out_features) = Σ_rows d_output, WRITTEN (nullptr when no bias);
// d_output: (rows, out_features); input, weight as in the forward pass.
void linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                     const float* weight, std::int64_t rows, int in_features, int out_features);

}  // namespace llcpress::ops
