// The SVD of one weight matrix on the GPU with cuSOLVER (Jacobi, gesvdj, in
// double like the host path of compress/svd.h), for the "svd" compression
// method: factorised once per matrix and checkpoint, every kept rank is then
// one GEMM on the device (the Backend op svd_factorize_forward says how).
// cuSOLVER is loaded at run time (cuda/cusolver_library.h).
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// left_scaled: (rows, r), WRITTEN, row-major, column i = U_i · s_i;
// singular_values: (r), WRITTEN, descending; right: (cols, r), WRITTEN,
// row-major, column i = V_i; matrix: (rows, cols) row-major fp32;
// r = min(rows, cols). matrix = left_scaled · rightᵀ to rounding, and the
// first k columns of both give the best rank-k approximation. Enqueued on
// kernel_stream(); waits for it once (to read cuSOLVER's convergence flag).
// BackendError when cuSOLVER cannot be loaded, fails or does not converge.
void svd_factorize_forward(float* left_scaled, float* singular_values, float* right, const float* matrix,
                           std::int64_t rows, std::int64_t cols);

}  // namespace llcpress::cuda
