// Uniform scalar quantization: every entry of a tensor (or of one row, per
// channel) is replaced by the nearest of n equally spaced values on [-m, m],
// entries outside the interval being clipped to its ends. The levels are
// (k - (n-1)/2)·step for k = 0..n-1 with step = 2m/(n-1): symmetric about 0
// (0 itself is a level only for odd n), so the quantizer commutes with sign.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace llcpress::compress {

// Distance between adjacent levels; 0 when clip is 0 (everything maps to 0).
inline double quantizer_step(int levels, float clip) { return 2.0 * clip / (levels - 1); }

// out[i] = Q(in[i]) for n = levels >= 2 levels on [-clip, clip], clip >= 0.
// out and in may alias.
void quantize_uniform_forward(std::span<float> out, std::span<const float> in, int levels, float clip);

// Σ (in[i] - Q(in[i]))², accumulated in double.
double quantization_squared_error(std::span<const float> in, int levels, float clip);

float max_abs(std::span<const float> values);

// The clip m in (0, max|w|] minimising the squared quantization error of
// `values`: a coarse grid over (0, max|w|] followed by golden-section
// refinement around the best grid point. The error is not unimodal in m for
// every distribution (it jumps when an entry crosses a decision boundary),
// so the grid guards against the nearest local minimum being a poor one.
// Returns 0 for an all-zero input.
float mse_optimal_clip(std::span<const float> values, int levels);

enum class ClipRule : std::uint8_t { MaxAbs, MseOptimal };

// Clips for one tensor of shape [rows, cols] (row-major): one clip for the
// whole tensor, or one per row when per_channel (a row is an output channel
// of a linear layer [out, in]).
std::vector<float> choose_clips(std::span<const float> tensor, std::int64_t rows, std::int64_t cols, bool per_channel,
                                int levels, ClipRule rule);

// Quantizes a [rows, cols] tensor with the clips from choose_clips (size 1
// or rows). Each clip is multiplied by clip_scale and capped at its group's
// max |w| (a clip beyond the largest entry only widens the step).
void quantize_tensor_forward(std::span<float> out, std::span<const float> tensor, std::int64_t rows, std::int64_t cols,
                             int levels, std::span<const float> clips, double clip_scale = 1.0);

}  // namespace llcpress::compress
