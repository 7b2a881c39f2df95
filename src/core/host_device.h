// LLC_HOST_DEVICE marks an inline function that both the host compiler and
// nvcc compile: __host__ __device__ under nvcc, nothing otherwise. The
// element-wise math shared by the CPU loops and the CUDA kernels
// (backend/elementwise.h) and the counter-based RNG (core/rng.h) use it.
#pragma once

#if defined(__CUDACC__)
#define LLC_HOST_DEVICE __host__ __device__
#else
#define LLC_HOST_DEVICE
#endif
