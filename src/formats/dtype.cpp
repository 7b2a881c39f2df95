#include "formats/dtype.h"

#include <array>
#include <bit>
#include <cstring>

#include "core/check.h"

namespace llcpress::formats {

namespace {

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  std::size_t size;
  bool is_float;
};

// Indexed by the enum's underlying value; the names are the ones safetensors writes.
constexpr std::array<DTypeEntry, 13> kDTypes = {{
    {DType::F16, "F16", 2, true},
    {DType::BF16, "BF16", 2, true},
    {DType::F32, "F32", 4, true},
    {DType::F64, "F64", 8, true},
    {DType::U8, "U8", 1, false},
    {DType::I8, "I8", 1, false},
    {DType::I16, "I16", 2, false},
    {DType::U16, "U16", 2, false},
    {DType::I32, "I32", 4, false},
    {DType::U32, "U32", 4, false},
    {DType::I64, "I64", 8, false},
    {DType::U64, "U64", 8, false},
    {DType::BOOL, "BOOL", 1, false},
}};

const DTypeEntry& entry(DType dtype) {
  auto index = static_cast<std::size_t>(dtype);
  LLC_REQUIRE(index < kDTypes.size() && kDTypes[index].dtype == dtype, "dtype value {}", index);
  return kDTypes[index];
}

// Loads a little-endian value from possibly unaligned memory. Every platform
// llcpress targets is little-endian (checked below), so a memcpy suffices.
static_assert(std::endian::native == std::endian::little, "llcpress assumes a little-endian host");
template <typename T>
T load(const std::byte* source, std::size_t index) {
  T value;
  std::memcpy(&value, source + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void convert_values(float* destination, const std::byte* source, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) destination[i] = static_cast<float>(load<T>(source, i));
}

}  // namespace

std::size_t dtype_size(DType dtype) { return entry(dtype).size; }
std::string_view dtype_name(DType dtype) { return entry(dtype).name; }
bool dtype_is_float(DType dtype) { return entry(dtype).is_float; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& candidate : kDTypes)
    if (candidate.name == name) return candidate.dtype;
  return std::nullopt;
}

std::string supported_dtype_names() {
  std::string names;
  for (const auto& candidate : kDTypes) {
    if (!names.empty()) names += ", ";
    names += candidate.name;
  }
  return names;
}

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Every half is
// exactly representable in binary32, so widening only moves bits around.
float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  std::uint32_t result;
  if (exponent == 0x1F) {
    // Inf / NaN: keep the payload in the top mantissa bits (quiet bit stays the quiet bit).
    result = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    result = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;
  } else {
    // Subnormal half: value = mantissa * 2^-24. Normalise it for binary32.
    int shift = std::countl_zero(mantissa) - (32 - 11);  // bring the leading 1 to bit 10
    mantissa <<= shift;
    const std::uint32_t float_exponent = static_cast<std::uint32_t>(127 - 15 + 1 - shift);
    result = sign | (float_exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(result);
}

std::uint16_t float_to_half(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {
    // NaN: keep the top payload bits and force the quiet bit so a payload living
    // only in the dropped low bits cannot turn the NaN into an infinity.
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  // 65520 = 65504 + half an ulp: from there on, round-to-nearest-even overflows to inf.
  if (magnitude >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);
  const int float_exponent = static_cast<int>(magnitude >> 23);
  if (float_exponent >= 127 - 14) {
    // Normal half. Rebias, then round the 13 dropped bits to nearest even; a carry
    // out of the mantissa correctly bumps the exponent (and 65504+ was handled above).
    std::uint32_t rebased = magnitude - (static_cast<std::uint32_t>(127 - 15) << 23);
    const std::uint32_t dropped = rebased & 0x1FFFu;
    std::uint32_t half = rebased >> 13;
    if (dropped > 0x1000u || (dropped == 0x1000u && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  // Subnormal half (or zero): value / 2^-24 rounded to an integer, nearest even.
  if (float_exponent < 127 - 25) return sign;  // below 2^-25: rounds to zero (2^-25 itself ties to 0)
  const std::uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;  // 24 bits, value = s * 2^(e-150)
  const int shift = 126 - float_exponent;  // value / 2^-24 = significand * 2^(e - 126); here e < 113
  const std::uint32_t kept = significand >> shift;
  const std::uint32_t remainder = significand & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  std::uint32_t half = kept;
  if (remainder > halfway || (remainder == halfway && (kept & 1u))) ++half;  // may carry into the smallest normal
  return static_cast<std::uint16_t>(sign | half);
}

// bfloat16 is the top half of a binary32: same exponent, 7 mantissa bits.
float bfloat16_to_float(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

std::uint16_t float_to_bfloat16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    // NaN: truncating could clear every payload bit and leave an infinity.
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  // Round to nearest even on the 16 dropped bits; overflow rounds to infinity,
  // which the carry into the exponent produces by itself.
  const std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

void convert_to_f32(float* destination, const void* source, DType dtype, std::size_t count) {
  // Empty tensors come with null data pointers, which memcpy must never see.
  if (count == 0) return;
  const auto* bytes = static_cast<const std::byte*>(source);
  switch (dtype) {
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i) destination[i] = half_to_float(load<std::uint16_t>(bytes, i));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) destination[i] = bfloat16_to_float(load<std::uint16_t>(bytes, i));
      return;
    case DType::F32:
      std::memcpy(destination, bytes, count * sizeof(float));
      return;
    case DType::F64:
      convert_values<double>(destination, bytes, count);
      return;
    case DType::U8:
      convert_values<std::uint8_t>(destination, bytes, count);
      return;
    case DType::I8:
      convert_values<std::int8_t>(destination, bytes, count);
      return;
    case DType::I16:
      convert_values<std::int16_t>(destination, bytes, count);
      return;
    case DType::U16:
      convert_values<std::uint16_t>(destination, bytes, count);
      return;
    case DType::I32:
      convert_values<std::int32_t>(destination, bytes, count);
      return;
    case DType::U32:
      convert_values<std::uint32_t>(destination, bytes, count);
      return;
    case DType::I64:
      convert_values<std::int64_t>(destination, bytes, count);
      return;
    case DType::U64:
      convert_values<std::uint64_t>(destination, bytes, count);
      return;
    case DType::BOOL:
      // Any non-zero byte is true (torch writes 0/1; be lenient about the rest).
      for (std::size_t i = 0; i < count; ++i) destination[i] = load<std::uint8_t>(bytes, i) != 0 ? 1.0f : 0.0f;
      return;
  }
  LLC_REQUIRE(false, "unhandled dtype {}", static_cast<int>(dtype));
}

void convert_from_f32(void* destination, const float* source, DType dtype, std::size_t count) {
  if (count == 0 && dtype_is_float(dtype)) return;  // null pointers allowed when empty (see convert_to_f32)
  auto* bytes = static_cast<std::byte*>(destination);
  auto store = [bytes](std::size_t index, auto value) {
    std::memcpy(bytes + index * sizeof(value), &value, sizeof(value));
  };
  switch (dtype) {
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i) store(i, float_to_half(source[i]));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) store(i, float_to_bfloat16(source[i]));
      return;
    case DType::F32:
      std::memcpy(bytes, source, count * sizeof(float));
      return;
    case DType::F64:
      for (std::size_t i = 0; i < count; ++i) store(i, static_cast<double>(source[i]));
      return;
    default:
      LLC_THROW(InputError, "", "store floating-point data as F16, BF16, F32 or F64",
                "cannot store fp32 values as {}: only floating-point dtypes are supported", dtype_name(dtype));
  }
}

}  // namespace llcpress::formats
