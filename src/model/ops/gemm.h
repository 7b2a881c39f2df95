// Single-precision GEMM on row-major buffers, the one product every CPU op
// goes through: C = alpha · op(A) · op(B) + beta · C.
//
// With OpenBLAS (the OpenMP build, found at configure time: LLCPRESS_HAVE_CBLAS)
// it is cblas_sgemm; without it, Eigen's product on strided maps. OpenBLAS is
// the default because its Zen/Haswell kernels run the model's GEMM shapes
// 1.2–1.4× faster than Eigen's on the machines we measured (bench/model/README.md).
// The OpenMP build matters: called inside one of our `omp parallel` regions
// (attention runs one small GEMM per task) it runs on the calling thread,
// where the pthread build would start threads of its own on top of ours.
#pragma once

#include <cstdint>

namespace llcpress::ops {

enum class Transpose : bool { No = false, Yes = true };

// c: (m, n), row stride ldc, WRITTEN when beta = 0 (its old contents are not
// read, NaN included), else scaled by beta and ACCUMULATED;
// a: op(a) is (m, k): (m, k) with row stride lda, or (k, m) when transposed;
// b: op(b) is (k, n): (k, n) with row stride ldb, or (n, k) when transposed.
void gemm(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
          Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda, std::int64_t ldb,
          std::int64_t ldc);

// The same product, split into a fixed grid of C tiles (256 × 512, set by the
// shape alone) run as OpenMP tasks, each one single-threaded gemm (OpenBLAS
// does not thread inside an active parallel region). Why not the library's
// own threading: OpenBLAS barely uses a second thread on the thin products of
// small models (a 2048 × 64 × 64 linear ran 0.28 ms on 1 thread and 0.25 ms
// on 2; the demo-166k step went from 25–26 to 19.7 ms on 2 threads with this).
// A product that fits one tile runs as plain gemm() on the library's threads,
// whose split may depend on the thread count: results are reproducible for a
// given thread count, not bit-identical across thread counts (tests compare
// 1 and 3 threads within the parity tolerances).
void gemm_parallel(float* c, const float* a, const float* b, std::int64_t m, std::int64_t n, std::int64_t k,
                   Transpose transpose_a, Transpose transpose_b, float alpha, float beta, std::int64_t lda,
                   std::int64_t ldb, std::int64_t ldc);

// Which library gemm() runs on: llcpress::gemm_library() (core/version.h).

}  // namespace llcpress::ops
