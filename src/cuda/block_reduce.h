// Deterministic sums across a warp and across a block. The order of the
// additions is a fixed tree that depends only on the block size, so a kernel's
// result is the same on every run (no atomics).
#pragma once

#include "cuda/kernel_launch.h"

namespace llcpress::cuda {

inline constexpr unsigned kFullWarp = 0xffffffffu;

// Butterfly sum over the 32 lanes: every lane ends with the same total.
template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(kFullWarp, value, offset);
  return value;
}

template <typename T>
__device__ __forceinline__ T warp_max(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const T other = __shfl_xor_sync(kFullWarp, value, offset);
    value = other > value ? other : value;
  }
  return value;
}

// Sum over a 1-D block whose size is a multiple of 32 (≤ 1024); every thread
// gets the total. `scratch` is 32 Ts of shared memory, free for reuse after
// the call returns (the final barrier guards it).
template <typename T>
__device__ __forceinline__ T block_sum(T value, T* scratch) {
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int warps = static_cast<int>(blockDim.x) / 32;
  value = warp_sum(value);
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  T total = lane < warps ? scratch[lane] : T(0);
  total = warp_sum(total);
  __syncthreads();
  return total;
}

template <typename T>
__device__ __forceinline__ T block_max(T value, T* scratch, T lowest) {
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int warps = static_cast<int>(blockDim.x) / 32;
  value = warp_max(value);
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  T result = lane < warps ? scratch[lane] : lowest;
  result = warp_max(result);
  __syncthreads();
  return result;
}

}  // namespace llcpress::cuda
