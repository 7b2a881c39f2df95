// Uniform scalar quantization on the GPU (the CPU twin: compress/quantizer.h).
// Pointer-and-count signatures instead of the CPU's std::span (these headers
// are also compiled by nvcc as C++17); otherwise the same names and meaning.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// out[i] = Q(in[i]) for `levels` ≥ 2 levels on [−clip, clip], clip ≥ 0;
// out, in: (count) device, may alias. Q is the CPU's LevelMap (index
// arithmetic in double; backend/elementwise.h), so the outputs are
// bit-identical to the CPU's.
void quantize_uniform_forward(float* out, const float* in, std::int64_t count, int levels, float clip);

// Backend::quantize_rows_forward: out: (rows, cols), WRITTEN, row r of `in`
// quantized on [−host_clips[r], host_clips[r]]; in: (rows, cols) device, may
// alias out; host_clips: (rows) HOST (uploaded by the call).
void quantize_rows_forward(float* out, const float* in, const float* host_clips, std::int64_t rows, std::int64_t cols,
                           int levels);

// Σ (in[i] − Q(in[i]))² in double (in: (count) device): per-block partials
// in a fixed tree, then added on the host in block order. Waits for the stream.
double quantization_squared_error(const float* in, std::int64_t count, int levels, float clip);

// max |in[i]| (in: (count) device); exact (a maximum does not depend on order).
float max_abs(const float* in, std::int64_t count);

}  // namespace llcpress::cuda
