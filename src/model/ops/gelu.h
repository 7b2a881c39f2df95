// GELU activation. transformers' hidden_act "gelu" is the exact form
// x·Φ(x) = ½x(1 + erf(x/√2)); "gelu_new", "gelu_fast" and "gelu_pytorch_tanh"
// are the tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))) that
// GPT-NeoX trained with.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace llcpress::ops {

enum class GeluKind { Erf, Tanh };

// The GeluKind of a config.json hidden_act; nullopt for other activations.
std::optional<GeluKind> gelu_kind_from_name(std::string_view hidden_act);

// output, input: (count); may alias.
void gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind);

// d_input, d_output, input: (count); d_input may alias d_output.
void gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count, GeluKind kind);

}  // namespace llcpress::ops
