// Element types of the tensor and token files we read (safetensors names).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llcpress::formats {

enum class DType : std::uint8_t { F16, BF16, F32, F64, U8, I8, I16, U16, I32, U32, I64, U64, BOOL };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "F16", "BF16", ... as safetensors spells them
std::optional<DType> dtype_from_name(std::string_view name);
bool dtype_is_float(DType dtype);

// Converts `count` elements of `dtype` at `source` (little-endian, possibly
// unaligned) to fp32. F16/BF16 upcast exactly; integers convert by value.
void convert_to_f32(float* destination, const void* source, DType dtype, std::size_t count);
float half_to_float(std::uint16_t bits);
float bfloat16_to_float(std::uint16_t bits);
std::uint16_t float_to_half(float value);      // round to nearest even
std::uint16_t float_to_bfloat16(float value);  // round to nearest even

}  // namespace llcpress::formats
