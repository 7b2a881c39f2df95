#include "cuda/block_normals.h"
#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"
#include "cuda/sampler_step.h"

namespace llcpress::cuda {

namespace {

constexpr int kThreads = 256;  // a power of two (the tree below)
static_assert(kSamplerSlots <= kThreads);
// The float sums come first in SamplerSlot; the counts after them.
constexpr int kFloatSums = kSlotNonfinite;

// One block per chunk. The update of one element is the CPU twin's
// update_group line by line (same float expressions, same order).
template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
__global__ void __launch_bounds__(kThreads)
    sampler_step_kernel(float* parameters, float* square_avg, float* displacement, double* chunk_sums,
                        const float* gradient, const float* center, const SamplerChunk* chunks, SamplerStepScalars s) {
  const SamplerChunk chunk = chunks[blockIdx.x];
  const std::uint64_t first_block = chunk.begin / 4, last_block = (chunk.end - 1) / 4;
  float sums[kFloatSums];
  for (int k = 0; k < kFloatSums; ++k) sums[k] = 0.0f;
  unsigned nonfinite = 0, clamped = 0;
  for (std::uint64_t block = first_block + threadIdx.x; block <= last_block; block += kThreads) {
    const Float4 normals = block_normals(s.seed, s.stream, block);
    for (int lane = 0; lane < 4; ++lane) {
      const std::uint64_t element = 4 * block + lane;
      if (element < chunk.begin || element >= chunk.end) continue;
      const std::uint64_t compact = chunk.compact + (element - chunk.begin);
      const float wj = parameters[element];
      const float gj = gradient[element];
      const float w0 = center[compact];
      float precondition = 1.0f, sqrt_precondition = 1.0f, previous_precondition = 1.0f;
      if (kRmsprop) {
        const float v_old = square_avg[compact];
        if (kClose) previous_precondition = 1.0f / (sqrtf(v_old) + s.rmsprop_eps);
        const float v_new = s.alpha * v_old + s.one_minus_alpha * gj * gj;
        if (s.apply) square_avg[compact] = v_new;
        precondition = 1.0f / (sqrtf(v_new) + s.rmsprop_eps);
        sqrt_precondition = sqrtf(precondition);
      }
      const float diff = wj - w0;
      const float scaled_gradient = s.nbeta * gj;
      const float localization = s.localization * diff;
      const float decay = s.weight_decay * wj;
      const float drift = scaled_gradient + localization + decay;
      const float step_scale = s.half_epsilon * precondition;
      const float noise = s.sqrt_epsilon * sqrt_precondition * s.noise_scale * normals.v[lane];
      float updated = wj - step_scale * drift + noise;
      const float low = w0 - s.box, high = w0 + s.box;
      const bool below = updated < low;
      const float raised = below ? low : updated;
      const bool above = raised > high;
      updated = above ? high : raised;
      if (s.apply) parameters[element] = updated;
      nonfinite += fabsf(updated) <= 3.402823466e+38f ? 0u : 1u;
      if (kClose) {
        const float previous_step = displacement[compact];
        sums[kSlotCloseDot] += previous_step * drift;
        sums[kSlotCloseDriftSq] += previous_precondition * drift * drift;
      }
      if (kOpen) {
        const float step = updated - wj;
        displacement[compact] = step;
        sums[kSlotOpenDot] += step * drift;
        sums[kSlotOpenDriftSq] += precondition * drift * drift;
      }
      if (kSums) {
        clamped += below || above ? 1u : 0u;
        const float drift_gradient = step_scale * scaled_gradient;
        const float drift_localization = step_scale * localization;
        const float drift_decay = step_scale * decay;
        const float after = updated - w0;
        sums[kSlotDistance] += diff * diff;
        sums[kSlotWeight] += wj * wj;
        sums[kSlotGradient] += gj * gj;
        sums[kSlotDriftGradient] += drift_gradient * drift_gradient;
        sums[kSlotDriftLocalization] += drift_localization * drift_localization;
        sums[kSlotDriftDecay] += drift_decay * drift_decay;
        sums[kSlotNoise] += noise * noise;
        sums[kSlotDistanceAfter] += after * after;
      }
    }
  }
  // All the block's partials in one fixed tree: slot k of thread t sits at
  // partial[k][t]; each level halves the active threads (kThreads is a power
  // of two), so the order depends on nothing but kThreads. One tree for the
  // 14 slots costs log2(256) = 8 barriers instead of 14 separate reductions.
  __shared__ double partial[kSamplerSlots][kThreads];
  const int t = static_cast<int>(threadIdx.x);
  for (int k = 0; k < kFloatSums; ++k) partial[k][t] = kSums ? static_cast<double>(sums[k]) : 0.0;
  partial[kSlotNonfinite][t] = static_cast<double>(nonfinite);
  partial[kSlotClamped][t] = static_cast<double>(clamped);
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half)
      for (int k = 0; k < kSamplerSlots; ++k) partial[k][t] += partial[k][t + half];
    __syncthreads();
  }
  if (t < kSamplerSlots) chunk_sums[static_cast<std::size_t>(blockIdx.x) * kSamplerSlots + t] = partial[t][0];
}

// Block `slot` (one warp) adds column `slot` of the (chunks, kSamplerSlots)
// partials: lane l takes chunks l, l + 32, … in order, then the warp's
// butterfly. Fixed order; ≤ 10⁴ chunks (160M parameters) is ~300 loads a lane.
__global__ void sum_chunks_kernel(double* totals, const double* chunk_sums, int chunk_count) {
  const int slot = static_cast<int>(blockIdx.x);
  double partial = 0.0;
  for (int chunk = static_cast<int>(threadIdx.x); chunk < chunk_count; chunk += 32)
    partial += chunk_sums[static_cast<std::size_t>(chunk) * kSamplerSlots + slot];
  const double total = warp_sum(partial);
  if (threadIdx.x == 0) totals[slot] = total;
}

template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
void launch_step(int chunk_count, float* w, float* v, float* d, double* chunk_sums, const float* g, const float* center,
                 const SamplerChunk* chunks, const SamplerStepScalars& s) {
  LLC_LAUNCH(static_cast<unsigned>(chunk_count), kThreads, 0, kernel_stream(),
             sampler_step_kernel<kRmsprop, kSums, kOpen, kClose>)
  (w, v, d, chunk_sums, g, center, chunks, s);
  LLC_CHECK_LAUNCH();
}

template <bool kRmsprop>
void dispatch_step(bool with_sums, bool open, bool close, int chunk_count, float* w, float* v, float* d,
                   double* chunk_sums, const float* g, const float* center, const SamplerChunk* chunks,
                   const SamplerStepScalars& s) {
  if (!with_sums)
    launch_step<kRmsprop, false, false, false>(chunk_count, w, v, d, chunk_sums, g, center, chunks, s);
  else if (open && close)
    launch_step<kRmsprop, true, true, true>(chunk_count, w, v, d, chunk_sums, g, center, chunks, s);
  else if (open)
    launch_step<kRmsprop, true, true, false>(chunk_count, w, v, d, chunk_sums, g, center, chunks, s);
  else if (close)
    launch_step<kRmsprop, true, false, true>(chunk_count, w, v, d, chunk_sums, g, center, chunks, s);
  else
    launch_step<kRmsprop, true, false, false>(chunk_count, w, v, d, chunk_sums, g, center, chunks, s);
}

}  // namespace

void sampler_step_launch(bool rmsprop, bool with_sums, bool open_mala, bool close_mala, float* parameters,
                         float* square_avg, float* displacement, double* chunk_sums, const float* gradient,
                         const float* center, const SamplerChunk* chunks, int chunk_count,
                         const SamplerStepScalars& scalars) {
  if (chunk_count <= 0) return;
  if (rmsprop)
    dispatch_step<true>(with_sums, open_mala, close_mala, chunk_count, parameters, square_avg, displacement, chunk_sums,
                        gradient, center, chunks, scalars);
  else
    dispatch_step<false>(with_sums, open_mala, close_mala, chunk_count, parameters, square_avg, displacement,
                         chunk_sums, gradient, center, chunks, scalars);
}

void sampler_sum_chunks(double* totals, const double* chunk_sums, int chunk_count) {
  LLC_LAUNCH(static_cast<unsigned>(kSamplerSlots), 32, 0, kernel_stream(), sum_chunks_kernel)
  (totals, chunk_sums, chunk_count);
  LLC_CHECK_LAUNCH();
}

}  // namespace llcpress::cuda
