// destination += weight · source on the GPU (Backend::add_scaled: the model
// sums the gradients of an oversized batch's chunks with it).
#pragma once

#if defined(LLCPRESS_CUDA_EMULATION)
#include "cuda/emulation/cuda_emulation.h"
#else
#include <cuda_runtime.h>
#endif

#include <cstdint>

namespace llcpress::cuda {

// destination: (count), ACCUMULATED; source: (count).
void add_scaled(float* destination, const float* source, float weight, std::int64_t count, cudaStream_t stream);

}  // namespace llcpress::cuda
