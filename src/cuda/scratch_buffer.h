// A temporary device buffer tied to a scope: allocated and freed in stream
// order on kernel_stream() (cudaMallocAsync / cudaFreeAsync), so kernels
// queued before the scope ends may still use it; freed on every exit path.
#pragma once

#include <cstddef>

#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

template <typename T>
class ScratchBuffer {
 public:
  explicit ScratchBuffer(std::size_t count) {
    if (count > 0)
      LLC_CHECK_CUDA(cudaMallocAsync(reinterpret_cast<void**>(&data_), sizeof(T) * count, kernel_stream()));
  }
  ~ScratchBuffer() {
    if (data_ != nullptr) cudaFreeAsync(data_, kernel_stream());  // no check: a destructor must not throw
  }
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  T* data() const { return data_; }

 private:
  T* data_ = nullptr;
};

}  // namespace llcpress::cuda
