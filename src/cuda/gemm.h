// The GPU twins of ops::gemm, ops::linear_forward and ops::linear_backward
// (src/model/ops/gemm.h, linear.h), through cuBLASLt. Same buffers, same
// row-major layouts, same argument order; the one addition is the
// CudaContext in front, which says which GPU, stream, cuBLASLt handle and
// compute precision (fp32 | tf32 | bf16, cuda_context.h) the product uses —
// the part of the CPU op's environment (its OpenMP pool) that a GPU op has to
// be handed explicitly. Every pointer is device memory; every call is queued
// on the context's stream and returns before the GPU has finished.
//
// Precision: parameters and activations stay fp32. In bf16 mode a weight is
// cast once per step (CudaContext::bf16_weight, refreshed after
// mark_weights_changed()), an activation operand on every call; accumulation
// and outputs are fp32 in every mode.
#pragma once

#if defined(LLCPRESS_CUDA_EMULATION)
#include "cuda/emulation/cuda_emulation.h"
#else
#include <cuda_bf16.h>
#endif

#include <cstdint>

#include "cuda/cuda_context.h"
#include "model/ops/gemm.h"  // ops::Transpose

namespace llcpress::cuda {

using ops::Transpose;

// c: (m, n), row stride ldc, WRITTEN when beta = 0 (old contents, NaN
// included, are not read), else scaled by beta and ACCUMULATED;
// a: op(a) is (m, k): (m, k) with row stride lda, or (k, m) when transposed;
// b: op(b) is (k, n): (k, n) with row stride ldb, or (n, k) when transposed.
void gemm(CudaContext& context, float* c, const float* a, const float* b, std::int64_t m, std::int64_t n,
          std::int64_t k, Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
          std::int64_t ldb, std::int64_t ldc);

// y = x · Wᵀ + b, as torch.nn.Linear, the bias added in the GEMM's epilogue.
// output: (rows, out_features), WRITTEN, or ACCUMULATED (+=) when `accumulate`;
// input: (rows, in_features); weight: (out_features, in_features);
// bias: (out_features) or nullptr.
void linear_forward(CudaContext& context, float* output, const float* input, const float* weight, const float* bias,
                    std::int64_t rows, int in_features, int out_features, bool accumulate = false);

// The MLP's first layer with the tanh-form GELU fused into the epilogue (one
// pass over the output instead of three: bias, GELU, and saving its input).
// output: (rows, out_features) = gelu_tanh(x · Wᵀ + b), WRITTEN;
// pre_activation: (rows, out_features) = x · Wᵀ + b, WRITTEN (the GELU
// backward needs it); input, weight, bias as in linear_forward (bias required).
// Only for hidden_act = gelu_new / tanh GELU: cuBLASLt's GELU epilogue is the
// tanh approximation, not the exact erf GELU that Pythia's config names.
// out_features must be a multiple of 8 (cuBLASLt's rule for the aux buffer).
void linear_gelu_tanh_forward(CudaContext& context, float* output, float* pre_activation, const float* input,
                              const float* weight, const float* bias, std::int64_t rows, int in_features,
                              int out_features);

// d_input: (rows, in_features) = d_output · W, WRITTEN (nullptr: skip);
// d_weight: (out_features, in_features) = d_outputᵀ · input, WRITTEN;
// d_bias: (out_features) = Σ_rows d_output, WRITTEN (nullptr when no bias),
// summed in a fixed order (bitwise reproducible run to run);
// d_output: (rows, out_features); input, weight as in the forward pass.
void linear_backward(CudaContext& context, float* d_input, float* d_weight, float* d_bias, const float* d_output,
                     const float* input, const float* weight, std::int64_t rows, int in_features, int out_features);

// output: (count) bf16, each value rounded to nearest even; input: (count) fp32.
void cast_to_bf16(__nv_bfloat16* output, const float* input, std::int64_t count, cudaStream_t stream);

// output: (columns) = Σ_r input[r, :], WRITTEN; input: (rows, columns), row
// stride `columns`. Rows are summed in fixed chunks, then the chunk sums in
// chunk order: the result depends on the shape only, not on the launch.
// `partials` is scratch of column_sum_partials(rows, columns) floats.
void column_sum(float* output, const float* input, std::int64_t rows, std::int64_t columns, float* partials,
                cudaStream_t stream);
std::int64_t column_sum_partials(std::int64_t rows, std::int64_t columns);

}  // namespace llcpress::cuda
