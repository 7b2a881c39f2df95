// Helpers of the CUDA tests: a device buffer filled from / read back into
// host vectors, and the normalised mean squared error the tests compare with.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "cuda/check_cuda.h"
#include "cuda/device_info.h"

namespace llcpress::cuda::testing {

// Skips the calling test when no GPU is visible (CI, this machine).
#define LLC_SKIP_WITHOUT_GPU()                                                                                   \
  do {                                                                                                           \
    if (::llcpress::cuda::device_count() == 0)                                                                   \
      GTEST_SKIP() << "no CUDA device visible: this test runs on the GPU machine (scripts/device-check.sh run)"; \
  } while (0)

template <typename T>
class DeviceVector {
 public:
  explicit DeviceVector(std::size_t count) : count_(count) {
    LLC_CHECK_CUDA(cudaMalloc(&data_, std::max<std::size_t>(count, 1) * sizeof(T)));
  }
  explicit DeviceVector(const std::vector<T>& host) : DeviceVector(host.size()) { upload(host); }
  ~DeviceVector() { cudaFree(data_); }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }
  void upload(const std::vector<T>& host) {
    LLC_CHECK_CUDA(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  // Waits for every stream (the ops run on the context's stream).
  std::vector<T> download() const {
    LLC_CHECK_CUDA(cudaDeviceSynchronize());
    std::vector<T> host(count_);
    LLC_CHECK_CUDA(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

// Σ (x − ref)² / Σ ref²: the error relative to the reference's energy, the
// measure every CUDA-vs-reference comparison uses (DESIGN.md, Backends).
inline double normalised_mse(const std::vector<float>& value, const std::vector<double>& reference) {
  EXPECT_EQ(value.size(), reference.size());
  double error = 0, energy = 0;
  for (std::size_t i = 0; i < reference.size() && i < value.size(); ++i) {
    error += (value[i] - reference[i]) * (value[i] - reference[i]);
    energy += reference[i] * reference[i];
  }
  return energy > 0 ? error / energy : error;
}

}  // namespace llcpress::cuda::testing
