// The part of a layer norm's forward that follows the row sum, shared by the
// plain kernel (layernorm.cu) and the residual-add one (residual_layernorm.cu):
// one warp normalises one row whose elements' sum it already holds. Two passes
// (mean, then centred squares), as the CPU twin, rather than E[x²] − E[x]²,
// which cancels when |mean| ≫ std. A lane reads only the elements at its own
// stride, so a row written by the same lane just before needs no barrier.
#pragma once

#include <cstdint>

#include "cuda/block_reduce.h"

namespace llcpress::cuda {

// lane_sum: this lane's partial sum of x (the warp adds them up here).
// y, x, weight, bias: (hidden); mean, rstd: the row's statistics, written by lane 0.
__device__ __forceinline__ void layernorm_row_forward(float* y, float* mean, float* rstd, const float* x,
                                                      const float* weight, const float* bias, float lane_sum,
                                                      int hidden, float eps, int lane) {
  const float row_mean = warp_sum(lane_sum) / static_cast<float>(hidden);
  float squares = 0.0f;
  for (int j = lane; j < hidden; j += 32) {
    const float centred = x[j] - row_mean;
    squares += centred * centred;
  }
  const float variance = warp_sum(squares) / static_cast<float>(hidden);
  const float row_rstd = 1.0f / sqrtf(variance + eps);
  for (int j = lane; j < hidden; j += 32) y[j] = (x[j] - row_mean) * row_rstd * weight[j] + bias[j];
  if (lane == 0) {
    *mean = row_mean;
    *rstd = row_rstd;
  }
}

}  // namespace llcpress::cuda
