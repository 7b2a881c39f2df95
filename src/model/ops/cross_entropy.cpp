#include "model/ops/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

namespace {
// One pass over each row (it is V floats, 200 KB for Pythia: it streams from
// memory) with an online log-sum-exp: per segment of kSumSegment entries
// (L1-resident, so its two passes — max, then exp-sum — cost no extra memory
// traffic) the segment sum is rescaled into a running sum kept in double, so a
// 50k vocabulary loses no more than a few float roundings of accuracy.
constexpr int kSumSegment = 1024;
}  // namespace

double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits, const std::int32_t* targets,
                             std::int64_t rows, int vocab) {
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const ConstArrayMap x(logits + row * vocab, vocab);  // (vocab)
    float running_max = -std::numeric_limits<float>::infinity();
    double running_sum = 0.0;  // Σ exp(x − running_max) over the segments seen so far
    for (int begin = 0; begin < vocab; begin += kSumSegment) {
      const auto segment = x.segment(begin, std::min(kSumSegment, vocab - begin));
      const float segment_max = segment.maxCoeff();
      const double segment_sum = static_cast<double>((segment - segment_max).exp().sum());
      if (segment_max > running_max) {
        running_sum = running_sum * std::exp(static_cast<double>(running_max) - segment_max) + segment_sum;
        running_max = segment_max;
      } else {
        running_sum += segment_sum * std::exp(static_cast<double>(segment_max) - running_max);
      }
    }
    const double lse = static_cast<double>(running_max) + std::log(running_sum);
    log_sum_exp[row] = static_cast<float>(lse);
    losses[row] = static_cast<float>(lse - static_cast<double>(x[targets[row]]));
  }
  double total = 0.0;
  for (std::int64_t row = 0; row < rows; ++row) total += losses[row];
  return rows > 0 ? total / static_cast<double>(rows) : 0.0;
}

void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp, const std::int32_t* targets,
                            float d_loss, std::int64_t rows, int vocab) {
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const ConstArrayMap x(logits + row * vocab, vocab);  // (vocab)
    ArrayMap dx(d_logits + row * vocab, vocab);          // (vocab)
    const float target_logit = x[targets[row]];          // read before an in-place write overwrites it
    dx = (x - log_sum_exp[row]).exp() * d_loss;
    dx[targets[row]] = (std::exp(target_logit - log_sum_exp[row]) - 1.0f) * d_loss;
  }
}

}  // namespace llcpress::ops
