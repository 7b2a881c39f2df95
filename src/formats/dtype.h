// Element types of the tensor and token files we read (safetensors names).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llcpress::formats {

enum class DType : std::uint8_t { F16, BF16, F32, F64, U8, I8, I16, U16, I32, U32, I64, U64, BOOL };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "F16", "BF16", ... as safetensors spells them
std::optional<DType> dtype_from_name(std::string_view name);
std::string supported_dtype_names();  // "F16, BF16, ..." for error messages
bool dtype_is_float(DType dtype);

// Converts `count` elements of `dtype` at `source` (little-endian, possibly
// unaligned) to fp32. F16/BF16 upcast exactly; integers convert by value
// (rounded to nearest when wider than 24 bits); BOOL gives 0 or 1.
void convert_to_f32(float* destination, const void* source, DType dtype, std::size_t count);
// The reverse for floating-point dtypes (F16/BF16 round to nearest even;
// F64 widens exactly). Other dtypes throw InputError.
void convert_from_f32(void* destination, const float* source, DType dtype, std::size_t count);
float half_to_float(std::uint16_t bits);
float bfloat16_to_float(std::uint16_t bits);
std::uint16_t float_to_half(float value);      // round to nearest even; overflow gives ±inf; NaN stays NaN
std::uint16_t float_to_bfloat16(float value);  // round to nearest even; overflow gives ±inf; NaN stays NaN

}  // namespace llcpress::formats
