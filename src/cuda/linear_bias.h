// The bias half of ops::linear_forward / linear_backward on the GPU (the GEMM
// half is cuda/gemm, which may also fuse the bias into its epilogue; these are
// for the paths that do not): y += b per row, and d_bias = Σ_rows d_output.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// output: (rows, features), ACCUMULATED: output[r, f] += bias[f]; bias: (features).
void linear_bias_forward(float* output, const float* bias, std::int64_t rows, int features);

// d_bias: (features) = Σ_rows d_output, WRITTEN; d_output: (rows, features).
// Column sums in a fixed order (no atomics).
void linear_bias_backward(float* d_bias, const float* d_output, std::int64_t rows, int features);

}  // namespace llcpress::cuda
