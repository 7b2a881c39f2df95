// The core's FP32 arithmetic ceiling: independent 8-wide fused multiply-adds
// with no memory traffic, one thread. Every GEMM rate in bench/model is read
// against this and against the square-SGEMM rate (bench_model --gemm-size):
// a model step can run no faster than its FLOPs at this rate.
//
//   llcpress_bench_fma_peak [seconds-per-trial=0.5] [trials=5]
//
// Needs AVX2 + FMA (x86-64-v3); built only where the compiler targets them.
#include <immintrin.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace {
double process_cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

// Twelve accumulators: more than FMA latency (4–5 cycles) × FMA ports (2), so
// the loop is bound by FMA throughput alone. The empty asm keeps them in
// registers and stops the compiler from folding the chain.
float fma_chain(long iterations) {
  const __m256 multiplier = _mm256_set1_ps(0.9999999f), addend = _mm256_set1_ps(1e-8f);
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f), a3 = _mm256_set1_ps(1.3f);
  __m256 a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f), a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f);
  __m256 a8 = _mm256_set1_ps(1.8f), a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f), a11 = _mm256_set1_ps(2.1f);
  for (long i = 0; i < iterations; ++i) {
    a0 = _mm256_fmadd_ps(a0, multiplier, addend);
    a1 = _mm256_fmadd_ps(a1, multiplier, addend);
    a2 = _mm256_fmadd_ps(a2, multiplier, addend);
    a3 = _mm256_fmadd_ps(a3, multiplier, addend);
    a4 = _mm256_fmadd_ps(a4, multiplier, addend);
    a5 = _mm256_fmadd_ps(a5, multiplier, addend);
    a6 = _mm256_fmadd_ps(a6, multiplier, addend);
    a7 = _mm256_fmadd_ps(a7, multiplier, addend);
    a8 = _mm256_fmadd_ps(a8, multiplier, addend);
    a9 = _mm256_fmadd_ps(a9, multiplier, addend);
    a10 = _mm256_fmadd_ps(a10, multiplier, addend);
    a11 = _mm256_fmadd_ps(a11, multiplier, addend);
    __asm__ volatile(""
                     : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8),
                       "+x"(a9), "+x"(a10), "+x"(a11));
  }
  __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0];
}
}  // namespace

int main(int argc, char** argv) {
  const double seconds_per_trial = argc > 1 ? std::atof(argv[1]) : 0.5;
  const int trials = argc > 2 ? std::atoi(argv[2]) : 5;
  constexpr double kFlopsPerIteration = 12 * 8 * 2;  // 12 FMAs × 8 lanes × (multiply + add)
  // Calibrate the iteration count to the requested trial length.
  long iterations = 1 << 20;
  double start = process_cpu_seconds();
  float sink = fma_chain(iterations);
  const double calibration = process_cpu_seconds() - start;
  iterations = static_cast<long>(iterations * seconds_per_trial / (calibration > 0 ? calibration : 1e-3));
  double best = 0;
  for (int trial = 0; trial < trials; ++trial) {
    start = process_cpu_seconds();
    sink += fma_chain(iterations);
    const double elapsed = process_cpu_seconds() - start;
    const double gflops = kFlopsPerIteration * iterations / elapsed / 1e9;
    if (gflops > best) best = gflops;
  }
  std::printf("FP32 FMA peak, one thread: %.1f GFLOP/s per CPU-second (best of %d; checksum %g)\n", best, trials, sink);
  return 0;
}
