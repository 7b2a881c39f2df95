// What every tensor reader returns: metadata plus a view of the stored bytes.
// Readers never allocate model state; callers convert into their own buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/dtype.h"

namespace llcpress::formats {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // [] is a scalar
  std::int64_t numel() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
};

// A tensor whose bytes live in a mapped file (little-endian, C order, contiguous).
struct TensorView {
  TensorInfo info;
  std::span<const std::byte> bytes;
  // Upcasts into `destination`, which must hold info.numel() floats.
  void copy_to_f32(float* destination) const;
  std::vector<float> to_f32() const;
};

// A tensor to be written: name, dtype, shape and its raw little-endian bytes.
struct TensorData {
  TensorInfo info;
  std::vector<std::byte> bytes;
  static TensorData from_f32(std::string name, std::vector<std::int64_t> shape, std::span<const float> values,
                             DType stored_as = DType::F32);
};

}  // namespace llcpress::formats
