// fp16 / bf16 <-> fp32 conversions checked exhaustively against references
// computed independently: widening by ldexp arithmetic on the bit fields, and
// narrowing by a nearest-neighbour search over the sorted table of every
// finite value of the narrow type (ties to the even bit pattern).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "formats/dtype.h"
#include "formats/tensor.h"

namespace llcpress::formats {
namespace {

// Value of a binary16 bit pattern, from the IEEE 754 definition.
double reference_half(std::uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
  double magnitude;
  if (exponent == 0x1F)
    magnitude = mantissa != 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exponent == 0)
    magnitude = std::ldexp(mantissa, -24);
  else
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  return (bits & 0x8000) ? -magnitude : magnitude;
}

// Value of a bfloat16 bit pattern (8 exponent bits, bias 127, 7 mantissa bits).
double reference_bfloat16(std::uint16_t bits) {
  const int exponent = (bits >> 7) & 0xFF, mantissa = bits & 0x7F;
  double magnitude;
  if (exponent == 0xFF)
    magnitude = mantissa != 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exponent == 0)
    magnitude = std::ldexp(mantissa, -133);
  else
    magnitude = std::ldexp(128 + mantissa, exponent - 134);
  return (bits & 0x8000) ? -magnitude : magnitude;
}

std::uint32_t float_bits(float value) { return std::bit_cast<std::uint32_t>(value); }

void expect_same_float(float actual, double reference, std::uint16_t bits) {
  if (std::isnan(reference)) {
    EXPECT_TRUE(std::isnan(actual)) << std::hex << bits;
    return;
  }
  EXPECT_EQ(static_cast<double>(actual), reference) << "bit pattern 0x" << std::hex << bits;
  EXPECT_EQ(std::signbit(actual), std::signbit(reference)) << "bit pattern 0x" << std::hex << bits;
}

TEST(DType, HalfToFloatAllPatterns) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const auto pattern = static_cast<std::uint16_t>(bits);
    const float value = half_to_float(pattern);
    expect_same_float(value, reference_half(pattern), pattern);
    if (std::isnan(value)) {
      // The NaN payload moves to the top of the fp32 mantissa unchanged.
      EXPECT_EQ((float_bits(value) >> 13) & 0x3FF, bits & 0x3FFu);
      EXPECT_EQ(float_bits(value) >> 31, bits >> 15);
    }
  }
}

TEST(DType, BFloat16ToFloatAllPatterns) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const auto pattern = static_cast<std::uint16_t>(bits);
    expect_same_float(bfloat16_to_float(pattern), reference_bfloat16(pattern), pattern);
  }
}

// The nearest representable narrow value to `x` (not NaN), ties to the even bit
// pattern, found by binary search in `table`: every finite non-negative value in
// increasing order (index = bit pattern), followed by the first value past the
// largest finite one (which stands for infinity: round-to-nearest overflows to
// infinity from the midpoint on).
std::uint16_t reference_narrow(double x, const std::vector<double>& table, std::uint16_t infinity_bits) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double magnitude = std::fabs(x);
  if (magnitude >= table.back()) return sign | infinity_bits;
  auto upper = std::upper_bound(table.begin(), table.end(), magnitude);  // first > magnitude
  const std::size_t above = static_cast<std::size_t>(upper - table.begin());
  const std::size_t below = above - 1;  // table[0] = 0 <= magnitude
  if (table[below] == magnitude) return sign | static_cast<std::uint16_t>(below);
  const double to_below = magnitude - table[below], to_above = table[above] - magnitude;
  std::size_t chosen;
  if (to_below < to_above)
    chosen = below;
  else if (to_above < to_below)
    chosen = above;
  else
    chosen = (below % 2 == 0) ? below : above;
  return sign | static_cast<std::uint16_t>(chosen);  // chosen == table.size() - 1 is the infinity pattern
}

std::vector<double> half_table() {
  std::vector<double> table;
  for (std::uint32_t bits = 0; bits <= 0x7BFF; ++bits)
    table.push_back(reference_half(static_cast<std::uint16_t>(bits)));
  table.push_back(65536.0);  // 0x7C00: one ulp past 65504, i.e. infinity
  return table;
}

std::vector<double> bfloat16_table() {
  std::vector<double> table;
  for (std::uint32_t bits = 0; bits <= 0x7F7F; ++bits)
    table.push_back(reference_bfloat16(static_cast<std::uint16_t>(bits)));
  table.push_back(std::ldexp(1.0, 128));  // 0x7F80: one ulp past the largest finite bfloat16
  return table;
}

// Every narrow value maps to itself; every midpoint between neighbours goes to
// the even one; the floats just beside each midpoint go to the nearer side.
template <typename Narrow, typename Widen>
void check_all_neighbours(const std::vector<double>& table, Narrow narrow, Widen widen, std::uint16_t infinity_bits) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const auto pattern = static_cast<std::uint16_t>(bits);
    const float value = widen(pattern);
    if (std::isnan(value)) continue;
    ASSERT_EQ(narrow(value), pattern) << "round trip of 0x" << std::hex << bits;
  }
  for (std::size_t i = 0; i + 1 < table.size(); ++i) {
    for (float sign : {1.0f, -1.0f}) {
      const std::uint16_t sign_bit = sign < 0 ? 0x8000 : 0;
      const double midpoint_double = sign * (table[i] + table[i + 1]) / 2;
      const float midpoint = static_cast<float>(midpoint_double);
      ASSERT_EQ(static_cast<double>(midpoint), midpoint_double) << "midpoint must be exact in fp32";
      const std::uint16_t even = static_cast<std::uint16_t>(i % 2 == 0 ? i : i + 1);
      ASSERT_EQ(narrow(midpoint), sign_bit | (even == table.size() - 1 ? infinity_bits : even))
          << "midpoint after 0x" << std::hex << i;
      const float toward_zero = std::nextafter(midpoint, 0.0f);
      const float away = std::nextafter(midpoint, sign * std::numeric_limits<float>::infinity());  // float overload
      ASSERT_EQ(narrow(toward_zero), sign_bit | static_cast<std::uint16_t>(i)) << "below midpoint 0x" << std::hex << i;
      const std::uint16_t upper = static_cast<std::uint16_t>(i + 1 == table.size() - 1 ? infinity_bits : i + 1);
      ASSERT_EQ(narrow(away), sign_bit | upper) << "above midpoint 0x" << std::hex << i;
    }
  }
}

// About a million fp32 bit patterns spread over every exponent, against the
// table search.
template <typename Narrow>
void check_sweep(const std::vector<double>& table, Narrow narrow, std::uint16_t infinity_bits) {
  constexpr std::uint64_t kStride = 4093;  // prime: visits every exponent and mixed low bits
  for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << 32); bits += kStride) {
    const float value = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    if (std::isnan(value)) continue;
    ASSERT_EQ(narrow(value), reference_narrow(value, table, infinity_bits)) << "fp32 bits 0x" << std::hex << bits;
  }
}

TEST(DType, FloatToHalfNeighboursAndMidpoints) {
  check_all_neighbours(half_table(), float_to_half, half_to_float, 0x7C00);
}

TEST(DType, FloatToHalfSweep) { check_sweep(half_table(), float_to_half, 0x7C00); }

TEST(DType, FloatToBFloat16NeighboursAndMidpoints) {
  check_all_neighbours(bfloat16_table(), float_to_bfloat16, bfloat16_to_float, 0x7F80);
}

TEST(DType, FloatToBFloat16Sweep) { check_sweep(bfloat16_table(), float_to_bfloat16, 0x7F80); }

TEST(DType, NarrowingKeepsNaNAndInfinity) {
  const float infinity = std::numeric_limits<float>::infinity();
  EXPECT_EQ(float_to_half(infinity), 0x7C00);
  EXPECT_EQ(float_to_half(-infinity), 0xFC00);
  EXPECT_EQ(float_to_bfloat16(infinity), 0x7F80);
  EXPECT_EQ(float_to_bfloat16(-infinity), 0xFF80);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::max()), 0x7C00);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up past the largest finite
  // NaNs whose payload sits only in the bits narrowing drops must stay NaN.
  for (std::uint32_t bits : {0x7F800001u, 0x7F801FFFu, 0x7FC00000u, 0xFF800001u, 0x7FFFFFFFu, 0x7F80FFFFu}) {
    const float nan = std::bit_cast<float>(bits);
    EXPECT_TRUE(std::isnan(half_to_float(float_to_half(nan)))) << std::hex << bits;
    EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(nan)))) << std::hex << bits;
    EXPECT_EQ(float_to_half(nan) >> 15, bits >> 31);
    EXPECT_EQ(float_to_bfloat16(nan) >> 15, bits >> 31);
  }
}

TEST(DType, NamesSizesAndLookup) {
  const std::vector<std::pair<DType, std::size_t>> all = {
      {DType::F16, 2}, {DType::BF16, 2}, {DType::F32, 4}, {DType::F64, 8}, {DType::U8, 1},
      {DType::I8, 1},  {DType::I16, 2},  {DType::U16, 2}, {DType::I32, 4}, {DType::U32, 4},
      {DType::I64, 8}, {DType::U64, 8},  {DType::BOOL, 1}};
  for (auto [dtype, size] : all) {
    EXPECT_EQ(dtype_size(dtype), size);
    EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
  }
  EXPECT_EQ(dtype_from_name("F8_E4M3"), std::nullopt);
  EXPECT_EQ(dtype_from_name("f32"), std::nullopt);  // names are case-sensitive, as in the format
  EXPECT_TRUE(dtype_is_float(DType::BF16));
  EXPECT_FALSE(dtype_is_float(DType::BOOL));
}

TEST(DType, ConvertToF32ByValue) {
  // Unaligned source: one byte of offset in front of each array.
  auto check = [](DType dtype, auto values, std::vector<float> expected) {
    std::vector<std::byte> buffer(1 + sizeof(values));
    std::memcpy(buffer.data() + 1, &values, sizeof(values));
    std::vector<float> out(expected.size());
    convert_to_f32(out.data(), buffer.data() + 1, dtype, expected.size());
    EXPECT_EQ(out, expected) << dtype_name(dtype);
  };
  check(DType::U8, std::array<std::uint8_t, 3>{0, 7, 255}, {0, 7, 255});
  check(DType::I8, std::array<std::int8_t, 3>{-128, 0, 127}, {-128, 0, 127});
  check(DType::I16, std::array<std::int16_t, 2>{-32768, 32767}, {-32768, 32767});
  check(DType::U16, std::array<std::uint16_t, 2>{0, 65535}, {0, 65535});
  check(DType::I32, std::array<std::int32_t, 2>{-5, 16777217}, {-5, 16777216});  // nearest fp32
  check(DType::U32, std::array<std::uint32_t, 1>{4294967295u}, {4294967296.0f});
  check(DType::I64, std::array<std::int64_t, 2>{-(std::int64_t{1} << 40), 3}, {-1099511627776.0f, 3});
  check(DType::U64, std::array<std::uint64_t, 1>{std::uint64_t{1} << 63}, {9223372036854775808.0f});
  check(DType::BOOL, std::array<std::uint8_t, 3>{0, 1, 2}, {0, 1, 1});
  check(DType::F64, std::array<double, 2>{0.1, -2.5}, {0.1f, -2.5f});
  check(DType::F16, std::array<std::uint16_t, 2>{0x3C00, 0xC000}, {1.0f, -2.0f});
  check(DType::BF16, std::array<std::uint16_t, 2>{0x3F80, 0x4049}, {1.0f, 3.140625f});
}

// Found by fuzz_safetensors: an empty tensor's fp32 buffer has a null data
// pointer, and memcpy(nullptr, ..., 0) is undefined behaviour (UBSan aborts
// the sanitizer build of this test if the guard is missing).
TEST(DType, EmptyConversionsAcceptNullPointers) {
  for (DType dtype : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::U8, DType::I64, DType::BOOL})
    convert_to_f32(nullptr, nullptr, dtype, 0);
  for (DType dtype : {DType::F16, DType::BF16, DType::F32, DType::F64}) convert_from_f32(nullptr, nullptr, dtype, 0);
  const std::vector<float> none;
  EXPECT_TRUE(TensorData::from_f32("empty", {0, 3}, none).bytes.empty());
}

TEST(DType, ConvertFromF32RefusesIntegers) {
  float value = 1.0f;
  std::int32_t out = 0;
  try {
    convert_from_f32(&out, &value, DType::I32, 1);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("I32"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace llcpress::formats
