#include "model/ops/gemm.h"

#include <algorithm>
#include <limits>

#include "core/check.h"

#if LLCPRESS_HAVE_CBLAS
#include <cblas.h>
#else
#include "model/ops/eigen_maps.h"
#endif

namespace llcpress::ops {

void gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
          Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda, std::int64_t ldb,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
#if LLCPRESS_HAVE_CBLAS
  // OpenBLAS's default interface takes 32-bit int sizes (USE_64BITINT is off
  // in Debian's build): refuse what would wrap instead of computing garbage.
  constexpr std::int64_t kLimit = std::numeric_limits<int>::max();
  LLC_REQUIRE(m <= kLimit && n <= kLimit && k <= kLimit && lda <= kLimit && ldb <= kLimit && ldc <= kLimit,
              "gemm sizes m={} n={} k={} (strides {}, {}, {}) exceed the 32-bit BLAS interface", m, n, k, lda, ldb,
              ldc);
  cblas_sgemm(CblasRowMajor, transpose_a == Transpose::Yes ? CblasTrans : CblasNoTrans,
              transpose_b == Transpose::Yes ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
#else
  StridedMatrixMap out(c, m, n, Eigen::OuterStride<>(ldc));  // (m, n)
  if (k == 0) {
    if (beta == 0.0f)
      out.setZero();
    else
      out *= beta;
    return;
  }
  const std::int64_t a_rows = transpose_a == Transpose::Yes ? k : m;
  const std::int64_t a_cols = transpose_a == Transpose::Yes ? m : k;
  const std::int64_t b_rows = transpose_b == Transpose::Yes ? n : k;
  const std::int64_t b_cols = transpose_b == Transpose::Yes ? k : n;
  const ConstStridedMatrixMap left(a, a_rows, a_cols, Eigen::OuterStride<>(lda));   // (m, k) or (k, m)
  const ConstStridedMatrixMap right(b, b_rows, b_cols, Eigen::OuterStride<>(ldb));  // (k, n) or (n, k)
  if (beta == 0.0f)
    out.setZero();
  else if (beta != 1.0f)
    out *= beta;
  // Four spelled-out cases so Eigen sees plain (transposed) maps and picks its
  // GEMM kernel, not a lazy product.
  if (transpose_a == Transpose::No && transpose_b == Transpose::No)
    out.noalias() += alpha * left * right;
  else if (transpose_a == Transpose::No)
    out.noalias() += alpha * left * right.transpose();
  else if (transpose_b == Transpose::No)
    out.noalias() += alpha * left.transpose() * right;
  else
    out.noalias() += alpha * left.transpose() * right.transpose();
#endif
}

void gemm_parallel(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                   Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                   std::int64_t ldb, std::int64_t ldc) {
  // Tiles big enough that re-packing an operand slice per tile costs ≲ 1 %
  // of the tile's FMAs, small enough that a 2048-token batch makes ≥ 8 tasks.
  constexpr std::int64_t kTileRows = 256, kTileColumns = 512;
  const std::int64_t row_tiles = (m + kTileRows - 1) / kTileRows;
  const std::int64_t column_tiles = (n + kTileColumns - 1) / kTileColumns;
  const std::int64_t tiles = row_tiles * column_tiles;
  if (tiles <= 1) {
    gemm(c, a, b, m, n, k, transpose_a, transpose_b, alpha, beta, lda, ldb, ldc);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t tile = 0; tile < tiles; ++tile) {
    const std::int64_t row = (tile / column_tiles) * kTileRows, column = (tile % column_tiles) * kTileColumns;
    const std::int64_t rows = std::min(kTileRows, m - row), columns = std::min(kTileColumns, n - column);
    // op(A) rows [row, row + rows): A's rows, or A's columns when transposed;
    // op(B) columns [column, …): B's columns, or B's rows when transposed.
    const float* a_tile = transpose_a == Transpose::Yes ? a + row : a + row * lda;
    const float* b_tile = transpose_b == Transpose::Yes ? b + column * ldb : b + column;
    gemm(c + row * ldc + column, a_tile, b_tile, rows, columns, k, transpose_a, transpose_b, alpha, beta, lda, ldb,
         ldc);
  }
}

}  // namespace llcpress::ops
