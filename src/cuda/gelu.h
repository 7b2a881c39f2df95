// GELU on the GPU: the CPU twin's (model/ops/gelu.h) names, signatures and
// buffer conventions, with device pointers. Launches on kernel_stream().
#pragma once

#include <cstdint>

#include "model/ops/gelu.h"

namespace llcpress::cuda {

using ops::GeluKind;

// output, input: (count); may alias.
void gelu_forward(float* output, const float* input, std::int64_t count, GeluKind kind);

// d_input, d_output, input: (count); d_input may alias d_output.
void gelu_backward(float* d_input, const float* d_output, const float* input, std::int64_t count, GeluKind kind);

}  // namespace llcpress::cuda
