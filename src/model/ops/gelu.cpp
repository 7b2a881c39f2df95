#include "model/ops/gelu.h"

#include <algorithm>
#include <unsupported/Eigen/SpecialFunctions>

#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

std::optional<GeluKind> gelu_kind_from_name(std::string_view hidden_act) {
  if (hidden_act == "gelu") return GeluKind::Erf;
  if (hidden_act == "gelu_new" || hidden_act == "gelu_fast" || hidden_act == "gelu_pytorch_tanh") return GeluKind::Tanh;
  return std::nullopt;
}

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;   // 1/√(2π), the normal density at 0
constexpr float kSqrt2OverPi = 0.79788456080286535588f;  // √(2/π)
constexpr float kTanhCubic = 0.044715f;
// Elements per parallel chunk: large enough for Eigen's vectorised erf/exp/tanh
// loops to amortise the call, small enough to stay in L1.
constexpr std::int64_t kChunk = 2048;

template <typename Function>
void for_each_chunk(std::int64_t count, Function function) {
  const std::int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    const std::int64_t begin = chunk * kChunk;
    function(begin, std::min(count, begin + kChunk) - begin);
  }
}

}  // namespace

void gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind) {
  for_each_chunk(count, [&](std::int64_t begin, std::int64_t size) {
    const ConstArrayMap x(input + begin, size);  // (size)
    ArrayMap y(output + begin, size);            // (size)
    if (kind == GeluKind::Erf) {
      y = 0.5f * x * (1.0f + (x * kInvSqrt2).erf());
    } else {
      y = 0.5f * x * (1.0f + (kSqrt2OverPi * (x + kTanhCubic * x.cube())).tanh());
    }
  });
}

void gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count, GeluKind kind) {
  for_each_chunk(count, [&](std::int64_t begin, std::int64_t size) {
    const ConstArrayMap x(input + begin, size);      // (size)
    const ConstArrayMap dy(d_output + begin, size);  // (size)
    ArrayMap dx(d_input + begin, size);              // (size)
    if (kind == GeluKind::Erf) {
      // d/dx xΦ(x) = Φ(x) + x·φ(x).
      dx = dy * (0.5f * (1.0f + (x * kInvSqrt2).erf()) + x * kInvSqrt2Pi * (-0.5f * x.square()).exp());
    } else {
      // With u = √(2/π)(x + 0.044715x³) and t = tanh u:
      // d/dx ½x(1 + t) = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²).
      float tanh_buffer[kChunk];
      ArrayMap t(tanh_buffer, size);  // (size)
      t = (kSqrt2OverPi * (x + kTanhCubic * x.cube())).tanh();
      dx = dy * (0.5f * (1.0f + t) +
                 0.5f * x * (1.0f - t.square()) * kSqrt2OverPi * (1.0f + 3.0f * kTanhCubic * x.square()));
    }
  });
}

}  // namespace llcpress::ops
