#include "compress/quantizer.h"

#include <algorithm>
#include <cmath>

#include "backend/elementwise.h"
#include "core/check.h"

namespace llcpress::compress {

namespace {

// Large tensors are split across OpenMP threads; small ones (a single row,
// a bias) are not worth the fork.
constexpr std::size_t kParallelThreshold = 1u << 16;

// The quantizer of one value is backend/elementwise.h's LevelMap (shared
// with the backends' quantize_rows_forward and the CUDA kernels).
using backend::LevelMap;

}  // namespace

void quantize_uniform_forward(std::span<float> out, std::span<const float> in, int levels, float clip) {
  LLC_REQUIRE(out.size() == in.size(), "{} vs {}", out.size(), in.size());
  LLC_REQUIRE(levels >= 2 && clip >= 0.0f && std::isfinite(clip), "levels {} clip {}", levels, clip);
  const LevelMap map(levels, clip);
  const std::size_t count = in.size();
#pragma omp parallel for schedule(static) if (count > kParallelThreshold)
  for (std::size_t i = 0; i < count; ++i) out[i] = map(in[i]);
}

double quantization_squared_error(std::span<const float> in, int levels, float clip) {
  LLC_REQUIRE(levels >= 2 && clip >= 0.0f, "levels {} clip {}", levels, clip);
  const LevelMap map(levels, clip);
  const std::size_t count = in.size();
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (count > kParallelThreshold)
  for (std::size_t i = 0; i < count; ++i) {
    double difference = static_cast<double>(in[i]) - map(in[i]);
    total += difference * difference;
  }
  return total;
}

float max_abs(std::span<const float> values) {
  float largest = 0.0f;
  for (float v : values) largest = std::max(largest, std::fabs(v));
  return largest;
}

float mse_optimal_clip(std::span<const float> values, int levels) {
  const float largest = max_abs(values);
  if (largest == 0.0f) return 0.0f;
  // Grid: 32 clips spaced evenly on (0, max]. The best clip for Gaussian-like
  // weights lies between roughly 2σ and max; 32 points put at least a few
  // there even for heavy-tailed tensors whose max is 20σ.
  constexpr int kGrid = 32;
  int best_index = kGrid;
  double best_error = quantization_squared_error(values, levels, largest);
  for (int j = 1; j < kGrid; ++j) {
    double error = quantization_squared_error(values, levels, largest * j / kGrid);
    if (error < best_error) best_error = error, best_index = j;
  }
  float best_clip = largest * best_index / kGrid;
  // Golden section on the two grid cells around the best point: 24 steps
  // shrink the bracket by 0.618^24 ≈ 1e-5 of its width, far below the
  // resolution at which the loss can tell clips apart.
  double lo = largest * std::max(best_index - 1, 0) / kGrid;
  double hi = largest * std::min(best_index + 1, kGrid) / kGrid;
  const double golden = 0.5 * (std::sqrt(5.0) - 1.0);
  double a = hi - golden * (hi - lo), b = lo + golden * (hi - lo);
  double error_a = quantization_squared_error(values, levels, static_cast<float>(a));
  double error_b = quantization_squared_error(values, levels, static_cast<float>(b));
  for (int step = 0; step < 24; ++step) {
    if (error_a <= error_b) {
      hi = b, b = a, error_b = error_a;
      a = hi - golden * (hi - lo);
      error_a = quantization_squared_error(values, levels, static_cast<float>(a));
    } else {
      lo = a, a = b, error_a = error_b;
      b = lo + golden * (hi - lo);
      error_b = quantization_squared_error(values, levels, static_cast<float>(b));
    }
  }
  // Keep the grid point unless the refinement beat it: never worse than the grid.
  if (error_a < best_error) best_error = error_a, best_clip = static_cast<float>(a);
  if (error_b < best_error) best_error = error_b, best_clip = static_cast<float>(b);
  return best_clip;
}

std::vector<float> choose_clips(std::span<const float> tensor, std::int64_t rows, std::int64_t cols, bool per_channel,
                                int levels, ClipRule rule) {
  LLC_REQUIRE(rows >= 1 && cols >= 1 && static_cast<std::size_t>(rows * cols) == tensor.size(), "{}x{} vs {}", rows,
              cols, tensor.size());
  auto clip_of = [&](std::span<const float> group) {
    return rule == ClipRule::MaxAbs ? max_abs(group) : mse_optimal_clip(group, levels);
  };
  if (!per_channel) return {clip_of(tensor)};
  std::vector<float> clips(static_cast<std::size_t>(rows));
#pragma omp parallel for schedule(dynamic, 4) if (tensor.size() > kParallelThreshold)
  for (std::int64_t r = 0; r < rows; ++r) clips[r] = clip_of(tensor.subspan(r * cols, cols));
  return clips;
}

void quantize_tensor_forward(std::span<float> out, std::span<const float> tensor, std::int64_t rows, std::int64_t cols,
                             int levels, std::span<const float> clips, double clip_scale) {
  LLC_REQUIRE(out.size() == tensor.size() && static_cast<std::size_t>(rows * cols) == tensor.size(), "sizes");
  LLC_REQUIRE(clips.size() == 1 || clips.size() == static_cast<std::size_t>(rows), "{} clips for {} rows", clips.size(),
              rows);
  const std::size_t group = clips.size() == 1 ? tensor.size() : static_cast<std::size_t>(cols);
  for (std::size_t g = 0; g < clips.size(); ++g) {
    auto in_group = tensor.subspan(g * group, group);
    float cap = max_abs(in_group);
    float clip = std::min(static_cast<float>(clips[g] * clip_scale), cap);
    quantize_uniform_forward(out.subspan(g * group, group), in_group, levels, clip);
  }
}

}  // namespace llcpress::compress
