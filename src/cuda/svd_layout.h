// The element kernels around the cuSOLVER SVD (cuda/svd_factorize.h): casts
// between the fp32 weights and the fp64 factorisation, and the transposition
// of cuSOLVER's column-major factors into the row-major layout the backend's
// GEMM reads. Device pointers, enqueued on kernel_stream().
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// out: (count), WRITTEN = (double) in; in: (count).
void cast_to_double(double* out, const float* in, std::int64_t count);
// out: (count), WRITTEN = (float) in, round to nearest; in: (count).
void cast_to_float(float* out, const double* in, std::int64_t count);

// out: (rows, columns) row-major fp32, WRITTEN: out[i][j] = in[i + j·rows] ·
// column_scale[j] (column_scale nullptr: 1), the product in double, rounded
// once; in: (rows, columns) column-major fp64 (leading dimension rows);
// column_scale: (columns) or nullptr.
void column_major_to_row_major(float* out, const double* in, const double* column_scale, std::int64_t rows,
                               std::int64_t columns);

}  // namespace llcpress::cuda
