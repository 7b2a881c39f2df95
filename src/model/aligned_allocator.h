// A std::allocator replacement that aligns every buffer to 64 bytes (a cache
// line, and a multiple of the AVX/AVX-512 vector width).
//
// Why: Eigen's vectorised reductions peel scalar iterations until the data is
// aligned, so the order of a float sum — hence its last bits — depends on the
// buffer's address modulo the vector width. Aligning the parameter and
// activation buffers (and padding per-layer strides to 64 bytes) makes a
// forward/backward a deterministic function of the parameters, tokens and
// thread count, independent of where malloc happened to put things.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace llcpress {

inline constexpr std::size_t kBufferAlignment = 64;

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}

  T* allocate(std::size_t count) {
    if (count == 0) return nullptr;
    if (count > static_cast<std::size_t>(-1) / sizeof(T) - kBufferAlignment) throw std::bad_array_new_length();
    const std::size_t bytes = (count * sizeof(T) + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
    void* memory = std::aligned_alloc(kBufferAlignment, bytes);
    if (memory == nullptr) throw std::bad_alloc();
    return static_cast<T*>(memory);
  }
  void deallocate(T* pointer, std::size_t) noexcept { std::free(pointer); }

  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace llcpress
