// Helpers for the kernel tests, which are compiled twice: into test_cuda
// (real kernels, real device; every test skips without a GPU) and into
// test_cuda_emulated (the same kernels built as host C++ under the CPU
// emulation, LLCPRESS_CUDA_EMULATION; always runs).
//
// Error metric: normalised MSE, nmse(a, b) = Σ(a − b)² / Σ b², of the CUDA
// op's output a against the CPU twin's b.
//
// Tolerances, derived per precision (DESIGN.md "Backends"). With unit
// roundoff u (fp32 2⁻²⁴; tf32 2⁻¹¹ and bf16 2⁻⁸ for GEMM inputs), two
// implementations that each round every operation differ, entry by entry, by
//   - the order of their sums: a K-term sum carries ~√K·u of relative rounding
//     error when the terms' errors are independent (K·u worst case), and
//   - their elementary functions (exp, erf, tanh, log, sqrt): each within a
//     few ulps of the true value, so within `function_ulps`·u of each other.
// We take the relative rms difference to be at most
//   c · (function_ulps + √K) · u,   c = 8
// (c covers correlated roundings, the few-ulp amplification of a subtraction
// such as x − mean, and terms reused in later sums), and the nmse tolerance is
// its square. Any indexing, sign or missing-term error gives nmse ~1e-2…1, ten
// orders of magnitude above these bounds for fp32.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "cuda/kernel_launch.h"

namespace llcpress::cuda::test {

enum class Precision { Fp32, Tf32, Bf16 };

inline double unit_roundoff(Precision precision) {
  switch (precision) {
    case Precision::Fp32:
      return std::ldexp(1.0, -24);
    case Precision::Tf32:
      return std::ldexp(1.0, -11);
    case Precision::Bf16:
      return std::ldexp(1.0, -8);
  }
  return 1.0;
}

// See the derivation above.
inline double nmse_tolerance(Precision precision, double reduction_length, double function_ulps = 0.0) {
  constexpr double kSafety = 8.0;
  const double relative = kSafety * (function_ulps + std::sqrt(reduction_length)) * unit_roundoff(precision);
  return relative * relative;
}

template <typename A, typename B>
double nmse(std::span<const A> actual, std::span<const B> expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double error = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double difference = static_cast<double>(actual[i]) - static_cast<double>(expected[i]);
    error += difference * difference;
    norm += static_cast<double>(expected[i]) * static_cast<double>(expected[i]);
  }
  return norm > 0.0 ? error / norm : error;
}
template <typename A, typename B>
double nmse(const std::vector<A>& actual, const std::vector<B>& expected) {
  return nmse(std::span<const A>(actual), std::span<const B>(expected));
}

inline std::vector<float> random_normal(std::size_t count, std::uint64_t stream, float scale = 1.0f) {
  std::vector<float> values(count);
  CounterRng(2024, stream).fill_normal(values.data(), count, 0, scale);
  return values;
}

// A parameterised test's name from (label, value) pieces, e.g. rows37_hidden128.
// Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on
// "literal" + std::to_string(...).
inline std::string test_name(std::initializer_list<std::pair<const char*, long long>> pieces) {
  std::string name;
  for (const auto& [label, value] : pieces) {
    if (!name.empty()) name += '_';
    name += label;
    name += std::to_string(value);
  }
  return name;
}

// Why a test cannot run, or "" when a device is there.
inline std::string missing_device_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess)
    return std::string("no CUDA device: cudaGetDeviceCount failed: ") + cudaGetErrorString(status);
  if (count == 0) return "no CUDA device: cudaGetDeviceCount returned 0";
  return "";
}

#define LLC_SKIP_WITHOUT_DEVICE()                                                     \
  do {                                                                                \
    const std::string llc_missing_ = ::llcpress::cuda::test::missing_device_reason(); \
    if (!llc_missing_.empty()) GTEST_SKIP() << llc_missing_;                          \
  } while (0)

// A device buffer of T, filled from and read back into host vectors.
template <typename T>
class DeviceVector {
 public:
  explicit DeviceVector(std::size_t count) : count_(count) {
    if (count_ > 0) LLC_CHECK_CUDA(cudaMalloc(reinterpret_cast<void**>(&data_), sizeof(T) * count_));
  }
  explicit DeviceVector(const std::vector<T>& host) : DeviceVector(host.size()) { upload(host); }
  ~DeviceVector() {
    if (data_ != nullptr) cudaFree(data_);
  }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;

  void upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), count_);
    if (count_ > 0) LLC_CHECK_CUDA(cudaMemcpy(data_, host.data(), sizeof(T) * count_, cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    LLC_CHECK_CUDA(cudaDeviceSynchronize());
    if (count_ > 0) LLC_CHECK_CUDA(cudaMemcpy(host.data(), data_, sizeof(T) * count_, cudaMemcpyDeviceToHost));
    return host;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }
  std::span<T> span() { return {data_, count_}; }

 private:
  std::size_t count_;
  T* data_ = nullptr;
};

}  // namespace llcpress::cuda::test
