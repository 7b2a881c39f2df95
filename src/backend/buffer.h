// Owning, typed buffers of one backend's memory (DESIGN.md, "Backends").
//
// A Buffer<T> is `size()` elements of T allocated by a Backend in that
// backend's memory space (host RAM for the CPU backend, GPU memory for CUDA).
// It knows its backend, so it frees itself and can move data across the
// host/device boundary; it never lets host code read device memory:
// host_span() refuses a buffer whose memory space is not MemorySpace::Host.
// The pointers from data() are what the ops of the same backend take
// (backend.h: every op is written on raw pointers, like ops:: today).
//
// Element types: float (parameters, activations, gradients, sampler state),
// std::int32_t (tokens, targets) and bf16 (storage only, reserved for reduced-
// precision w* or RMSprop state where a test shows λ̂ does not move; no op
// takes bf16 yet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

namespace llcpress::backend {

// Where a buffer lives. Host: ordinary RAM the CPU may dereference. Device:
// accelerator memory, reached only through the backend's ops and transfers.
enum class MemorySpace : std::uint8_t { Host, Device };
const char* memory_space_name(MemorySpace space);  // "host", "device"

// bfloat16 storage: the upper 16 bits of an IEEE float. A distinct type so a
// Buffer<bf16> cannot be handed to an fp32 op by mistake.
struct bf16 {
  std::uint16_t bits;
};

enum class DType : std::uint8_t { F32, I32, BF16 };
const char* dtype_name(DType dtype);  // "f32", "i32", "bf16"
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  if constexpr (std::is_same_v<T, std::int32_t>) return DType::I32;
  if constexpr (std::is_same_v<T, bf16>) return DType::BF16;
}
template <typename T>
inline constexpr bool kBufferElement =
    std::is_same_v<T, float> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, bf16>;

class Backend;

// Untyped owning allocation; Buffer<T> is the typed face of it. Movable, not
// copyable (a copy of a device buffer is an explicit backend.copy).
class RawBuffer {
 public:
  RawBuffer() = default;
  // `bytes` of uninitialised memory from backend.allocate (64-byte aligned).
  RawBuffer(Backend& backend, std::size_t bytes);
  ~RawBuffer() { release(); }
  RawBuffer(RawBuffer&& other) noexcept { swap(other); }
  RawBuffer& operator=(RawBuffer&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }
  RawBuffer(const RawBuffer&) = delete;
  RawBuffer& operator=(const RawBuffer&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Backend* backend() const { return backend_; }
  MemorySpace space() const;  // of the backend; Host for an empty buffer
  void release() noexcept;    // frees the memory; the buffer becomes empty

 private:
  void swap(RawBuffer& other) noexcept {
    std::swap(backend_, other.backend_);
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
  }
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

template <typename T>
class Buffer {
  static_assert(kBufferElement<T>, "Buffer elements are float, std::int32_t or bf16");

 public:
  Buffer() = default;
  // `count` elements, uninitialised (backend.zero or upload fills them).
  Buffer(Backend& backend, std::size_t count) : raw_(backend, count * sizeof(T)), size_(count) {}

  T* data() { return static_cast<T*>(raw_.data()); }
  const T* data() const { return static_cast<const T*>(raw_.data()); }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }
  DType dtype() const { return dtype_of<T>(); }
  MemorySpace space() const { return raw_.space(); }
  Backend* backend() const { return raw_.backend(); }

  // Host view of a host buffer. Throws (InternalError naming the backend)
  // for device memory: read it with download() instead.
  std::span<T> host_span();
  std::span<const T> host_span() const;

  // Host → this buffer (host.size() == size()) and back. Synchronous.
  void upload(std::span<const T> host);
  void download(std::span<T> host) const;

 private:
  RawBuffer raw_;
  std::size_t size_ = 0;
};

}  // namespace llcpress::backend
