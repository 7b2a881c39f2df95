// A small CPU emulation of the CUDA execution model, under which the kernel
// sources of src/cuda also compile as host C++ (DESIGN.md "Backends", last
// bullet). It exists so that the kernels' indexing, shared memory, block and
// warp reductions and Philox layout are exercised on machines without a GPU
// (this one and CI); it is not a CUDA implementation.
//
// Model:
//   - a launch runs its blocks one at a time, in x-fastest order;
//   - the threads of a block are fibers (POSIX ucontext, one stack each) run
//     cooperatively on the calling thread: a fiber runs until it reaches a
//     barrier (__syncthreads, or the warp exchange inside a shuffle) or ends;
//   - __shared__ variables are function-local statics, which is one copy per
//     block because blocks never overlap; dynamic shared memory is a buffer of
//     the launch's size;
//   - a warp shuffle writes the value into a per-warp exchange slot, waits for
//     the warp's live lanes, reads the partner's slot and waits again;
//   - "device memory" is host memory: cudaMalloc is an aligned allocation and
//     cudaMemcpy is memcpy; streams are accepted and ignored (work is done
//     when the launch returns); there is one device, ordinal 0;
//   - cuBLASLt is cublaslt_emulation.cpp's host implementation of its
//     documented semantics (cuda/cublaslt_api.h).
// A barrier that some live thread of the block never reaches is reported as a
// deadlock (EmulationError) rather than hanging: that is a kernel bug on a GPU.
// Not covered: memory ordering between threads without a barrier (fibers never
// interleave between barriers, so a missing __syncthreads can go unnoticed
// when the fiber order happens to hide it), tensor cores, cuBLASLt's own
// numerics (its accumulation order, its TF32 rounding), cuDNN, cuSOLVER.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
// One block runs at a time, so a function-local static is exactly one copy per block.
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace llcpress::cuda::emulation {

struct EmulationError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The index registers of the fiber now running.
struct ThreadRegisters {
  dim3 thread_index{0, 0, 0};
  dim3 block_index{0, 0, 0};
  dim3 block_dim{1, 1, 1};
  dim3 grid_dim{1, 1, 1};
};
ThreadRegisters& registers();

// Runs body() once per thread of every block, as described above.
// `dynamic_shared_bytes` sizes the buffer dynamic_shared_memory() returns.
void launch(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& body);

void* dynamic_shared_memory();
void sync_threads();
void sync_warp();
// Exchanges `bits` among the current warp's lanes; returns lane `source_lane`'s
// value (or the caller's own when source_lane is outside the warp).
std::uint64_t warp_exchange(std::uint64_t bits, int source_lane);

template <typename T>
T shuffle(T value, int source_lane) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  const std::uint64_t result = warp_exchange(bits, source_lane);
  T out;
  std::memcpy(&out, &result, sizeof(T));
  return out;
}

inline int lane_id() {
  const ThreadRegisters& r = registers();
  const unsigned linear = r.thread_index.x + r.block_dim.x * (r.thread_index.y + r.block_dim.y * r.thread_index.z);
  return static_cast<int>(linear % 32u);
}

}  // namespace llcpress::cuda::emulation

#define threadIdx (::llcpress::cuda::emulation::registers().thread_index)
#define blockIdx (::llcpress::cuda::emulation::registers().block_index)
#define blockDim (::llcpress::cuda::emulation::registers().block_dim)
#define gridDim (::llcpress::cuda::emulation::registers().grid_dim)
constexpr int warpSize = 32;

inline void __syncthreads() { ::llcpress::cuda::emulation::sync_threads(); }
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { ::llcpress::cuda::emulation::sync_warp(); }

// Shuffles: the mask must name every live lane of the warp (the kernels here
// always pass the full mask); a partial warp is a deadlock in the emulation.
template <typename T>
T __shfl_xor_sync(unsigned /*mask*/, T value, int lane_mask, int width = 32) {
  const int lane = ::llcpress::cuda::emulation::lane_id();
  const int source = (lane ^ lane_mask) < ((lane / width) + 1) * width ? (lane ^ lane_mask) : lane;
  return ::llcpress::cuda::emulation::shuffle(value, source);
}
template <typename T>
T __shfl_down_sync(unsigned /*mask*/, T value, unsigned delta, int width = 32) {
  const int lane = ::llcpress::cuda::emulation::lane_id();
  const int source = (lane % width) + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane;
  return ::llcpress::cuda::emulation::shuffle(value, source);
}
template <typename T>
T __shfl_sync(unsigned /*mask*/, T value, int source_lane, int width = 32) {
  const int lane = ::llcpress::cuda::emulation::lane_id();
  return ::llcpress::cuda::emulation::shuffle(value, (lane / width) * width + source_lane % width);
}

// Device intrinsics used by the kernels, with their CUDA meaning.
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline unsigned __float_as_uint(float x) {
  unsigned u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
inline int __float_as_int(float x) { return static_cast<int>(__float_as_uint(x)); }
inline float __int_as_float(int i) { return __uint_as_float(static_cast<unsigned>(i)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
// Separately rounded fp32 add and multiply (never contracted into an FMA).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }

// Vector and bf16 types (cuda_bf16.h, vector_types.h): storage only, with
// the conversions the sources use.
struct alignas(16) float4 {
  float x, y, z, w;
};
struct __nv_bfloat16 {
  unsigned short x;  // the top 16 bits of an fp32
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
// Round to nearest, ties to even; NaN stays a (quiet) NaN.
inline __nv_bfloat16 __float2bfloat16_rn(float value) {
  const unsigned bits = __float_as_uint(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return {static_cast<unsigned short>((bits >> 16) | 0x0040u)};
  const unsigned rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  return {static_cast<unsigned short>(rounded >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 value) { return __uint_as_float(unsigned(value.x) << 16); }
inline __nv_bfloat162 __floats2bfloat162_rn(float low, float high) {
  return {__float2bfloat16_rn(low), __float2bfloat16_rn(high)};
}

// ----------------------------------------------------------------- runtime API
// The part of the runtime the launchers and tests use, over host memory.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
using cudaStream_t = struct CUstream_st*;
constexpr unsigned cudaStreamDefault = 0x0, cudaStreamNonBlocking = 0x1;

// One emulated device (ordinal 0); streams are tokens (work is done when a
// call returns), created and destroyed in pairs.
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);

cudaError_t cudaMalloc(void** pointer, std::size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** pointer, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(pointer), bytes);
}
cudaError_t cudaFree(void* pointer);
inline cudaError_t cudaMallocAsync(void** pointer, std::size_t bytes, cudaStream_t) {
  return cudaMalloc(pointer, bytes);
}
inline cudaError_t cudaFreeAsync(void* pointer, cudaStream_t) { return cudaFree(pointer); }
inline cudaError_t cudaMemcpy(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind) {
  if (bytes > 0) std::memmove(destination, source, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* destination, const void* source, std::size_t bytes, cudaMemcpyKind kind,
                                   cudaStream_t = nullptr) {
  return cudaMemcpy(destination, source, bytes, kind);
}
inline cudaError_t cudaMemsetAsync(void* destination, int value, std::size_t bytes, cudaStream_t = nullptr) {
  if (bytes > 0) std::memset(destination, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* destination, int value, std::size_t bytes) {
  return cudaMemsetAsync(destination, value, bytes);
}
// `height` rows of `width` bytes, `pitch` bytes apart.
inline cudaError_t cudaMemset2DAsync(void* destination, std::size_t pitch, int value, std::size_t width,
                                     std::size_t height, cudaStream_t = nullptr) {
  for (std::size_t row = 0; row < height && width > 0; ++row)
    std::memset(static_cast<unsigned char*>(destination) + row * pitch, value, width);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
// The emulated "device" always exists: the emulated tests never skip.
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline const char* cudaGetErrorName(cudaError_t error) { return error == cudaSuccess ? "cudaSuccess" : "cudaError"; }
inline const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorMemoryAllocation:
      return "emulated allocation failed";
    case cudaErrorInvalidDevice:
      return "the emulation has one device, ordinal 0";
    case cudaErrorInvalidResourceHandle:
      return "not a stream of the emulation (destroyed twice?)";
    default:
      return "invalid argument to the emulated runtime";
  }
}
