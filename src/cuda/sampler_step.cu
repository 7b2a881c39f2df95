#include <vector>

#include "backend/elementwise.h"
#include "cuda/block_reduce.h"
#include "cuda/kernel_launch.h"
#include "cuda/sampler_step.h"
#include "cuda/scratch_buffer.h"

namespace llcpress::cuda {

namespace {

using backend::SamplerChunk;
using backend::SamplerStepScalars;

constexpr int kThreads = 256;  // a power of two (the tree below)

// Per chunk, the partial sums in this order (the two counts as doubles, exact
// below 2⁵³).
enum Slot : int {
  kDistance,
  kWeight,
  kGradient,
  kDriftGradient,
  kDriftLocalization,
  kDriftDecay,
  kNoise,
  kDistanceAfter,
  kOpenDot,
  kOpenDriftSq,
  kCloseDot,
  kCloseDriftSq,
  kNonfinite,
  kClamped,
  kSlots
};
constexpr int kFloatSums = kNonfinite;  // the float sums come first
static_assert(kSlots <= kThreads);

// One block per chunk. kSums: the diagnostic sums; kOpen / kClose: the MALA
// terms (which imply kSums); the update itself is the same in every variant.
template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
__global__ void __launch_bounds__(kThreads)
    sampler_step_kernel(float* parameters, float* square_avg, float* displacement, double* chunk_sums,
                        const float* gradient, const float* center, const SamplerChunk* chunks, SamplerStepScalars s) {
  const SamplerChunk chunk = chunks[blockIdx.x];
  const std::size_t first_block = chunk.begin / 4, last_block = (chunk.end - 1) / 4;
  float sums[kFloatSums];
  for (int k = 0; k < kFloatSums; ++k) sums[k] = 0.0f;
  unsigned nonfinite = 0, clamped = 0;
  for (std::size_t block = first_block + threadIdx.x; block <= last_block; block += kThreads) {
    std::uint32_t words[4];
    backend::philox_block(s.seed, s.stream, block, words);
    float normals[4];
    backend::block_normals(words[0], words[1], words[2], words[3], normals);
    for (int lane = 0; lane < 4; ++lane) {
      const std::size_t element = 4 * block + lane;
      if (element < chunk.begin || element >= chunk.end) continue;
      const std::size_t compact = chunk.compact + (element - chunk.begin);
      const float wj = parameters[element];
      const float v = kRmsprop ? square_avg[compact] : 0.0f;
      const backend::SgldElement e =
          backend::sgld_update_element<kRmsprop, kClose>(wj, gradient[element], center[element], v, normals[lane], s);
      if (s.apply) {
        parameters[element] = e.updated;
        if (kRmsprop) square_avg[compact] = e.square_avg;
      }
      nonfinite += backend::nonfinite(e.updated) ? 1u : 0u;
      if (kClose) {
        sums[kCloseDot] += displacement[compact] * e.drift;
        sums[kCloseDriftSq] += e.previous_precondition * e.drift * e.drift;
      }
      if (kOpen) {
        const float step = e.updated - wj;
        displacement[compact] = step;
        sums[kOpenDot] += step * e.drift;
        sums[kOpenDriftSq] += e.precondition * e.drift * e.drift;
      }
      if (kSums) {
        clamped += e.below || e.above ? 1u : 0u;
        const backend::SgldSquares squares = backend::sgld_squares(e, wj, gradient[element], center[element]);
        sums[kDistance] += squares.distance;
        sums[kWeight] += squares.weight;
        sums[kGradient] += squares.gradient;
        sums[kDriftGradient] += squares.drift_gradient;
        sums[kDriftLocalization] += squares.drift_localization;
        sums[kDriftDecay] += squares.drift_decay;
        sums[kNoise] += squares.noise;
        sums[kDistanceAfter] += squares.distance_after;
      }
    }
  }
  // All the block's partials in one fixed tree: slot k of thread t sits at
  // partial[k][t]; each level halves the active threads, so the order depends
  // on nothing but kThreads. One tree for the 14 slots costs log2(256) = 8
  // barriers instead of 14 separate reductions.
  __shared__ double partial[kSlots][kThreads];
  const int t = static_cast<int>(threadIdx.x);
  for (int k = 0; k < kFloatSums; ++k) partial[k][t] = kSums ? static_cast<double>(sums[k]) : 0.0;
  partial[kNonfinite][t] = static_cast<double>(nonfinite);
  partial[kClamped][t] = static_cast<double>(clamped);
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (t < half)
      for (int k = 0; k < kSlots; ++k) partial[k][t] += partial[k][t + half];
    __syncthreads();
  }
  if (t < kSlots) chunk_sums[static_cast<std::size_t>(blockIdx.x) * kSlots + t] = partial[t][0];
}

// Block `slot` (one warp) adds column `slot` of the (chunks, kSlots)
// partials: lane l takes chunks l, l + 32, … in order, then the warp's
// butterfly. Fixed order; ~10⁴ chunks (160M parameters) is ~300 loads a lane.
__global__ void sum_chunks_kernel(double* totals, const double* chunk_sums, int chunk_count) {
  const int slot = static_cast<int>(blockIdx.x);
  double partial = 0.0;
  for (int chunk = static_cast<int>(threadIdx.x); chunk < chunk_count; chunk += 32)
    partial += chunk_sums[static_cast<std::size_t>(chunk) * kSlots + slot];
  const double total = warp_sum(partial);
  if (threadIdx.x == 0) totals[slot] = total;
}

struct StepBuffers {
  float *w, *v, *d;
  double* chunk_sums;
  const float *g, *center;
  const SamplerChunk* chunks;
};

template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
void launch_step(int chunk_count, const StepBuffers& b, const SamplerStepScalars& s) {
  LLC_LAUNCH(static_cast<unsigned>(chunk_count), kThreads, 0, kernel_stream(),
             sampler_step_kernel<kRmsprop, kSums, kOpen, kClose>)
  (b.w, b.v, b.d, b.chunk_sums, b.g, b.center, b.chunks, s);
  LLC_CHECK_LAUNCH();
}

template <bool kRmsprop>
void dispatch_step(int chunk_count, const StepBuffers& b, const SamplerStepScalars& s) {
  const bool sums = s.sums || s.open_mala || s.close_mala;  // MALA implies the sums
  if (!sums)
    launch_step<kRmsprop, false, false, false>(chunk_count, b, s);
  else if (s.open_mala && s.close_mala)
    launch_step<kRmsprop, true, true, true>(chunk_count, b, s);
  else if (s.open_mala)
    launch_step<kRmsprop, true, true, false>(chunk_count, b, s);
  else if (s.close_mala)
    launch_step<kRmsprop, true, false, true>(chunk_count, b, s);
  else
    launch_step<kRmsprop, true, false, false>(chunk_count, b, s);
}

}  // namespace

backend::StepSums sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                               const float* center, const SamplerChunk* chunks, std::size_t chunk_count,
                               const SamplerStepScalars& scalars) {
  backend::StepSums sums;
  if (chunk_count == 0) return sums;
  LLC_CHECK(chunk_count < (1u << 31), ::llcpress::BackendError, "sampler_step",
            "split the parameters over fewer chunks", "{} chunks exceed one CUDA grid dimension", chunk_count);
  LLC_REQUIRE(!scalars.rmsprop || square_avg != nullptr, "pSGLD step without V");
  LLC_REQUIRE(!(scalars.open_mala || scalars.close_mala) || displacement != nullptr, "MALA step without δ");
  const int count = static_cast<int>(chunk_count);
  // The chunk list goes up with every step (24 bytes a chunk: 240 KB at 160M
  // parameters); a copy from pageable memory has consumed its source when the
  // call returns.
  const ScratchBuffer<SamplerChunk> device_chunks(chunk_count);  // (chunks)
  const ScratchBuffer<double> chunk_sums(chunk_count * kSlots);  // (chunks, kSlots)
  const ScratchBuffer<double> totals(kSlots);                    // (kSlots)
  LLC_CHECK_CUDA(cudaMemcpyAsync(device_chunks.data(), chunks, sizeof(SamplerChunk) * chunk_count,
                                 cudaMemcpyHostToDevice, kernel_stream()));
  const StepBuffers buffers{parameters, square_avg, displacement,        chunk_sums.data(),
                            gradient,   center,     device_chunks.data()};
  if (scalars.rmsprop)
    dispatch_step<true>(count, buffers, scalars);
  else
    dispatch_step<false>(count, buffers, scalars);
  LLC_LAUNCH(static_cast<unsigned>(kSlots), 32, 0, kernel_stream(), sum_chunks_kernel)
  (totals.data(), chunk_sums.data(), count);
  LLC_CHECK_LAUNCH();
  double host_totals[kSlots];  // (kSlots)
  LLC_CHECK_CUDA(
      cudaMemcpyAsync(host_totals, totals.data(), sizeof host_totals, cudaMemcpyDeviceToHost, kernel_stream()));
  LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));
  sums.distance_sq = host_totals[kDistance];
  sums.weight_sq = host_totals[kWeight];
  sums.gradient_sq = host_totals[kGradient];
  sums.drift_gradient_sq = host_totals[kDriftGradient];
  sums.drift_localization_sq = host_totals[kDriftLocalization];
  sums.drift_weight_decay_sq = host_totals[kDriftDecay];
  sums.noise_sq = host_totals[kNoise];
  sums.distance_after_sq = host_totals[kDistanceAfter];
  sums.open_displacement_dot_drift = host_totals[kOpenDot];
  sums.open_drift_sq_preconditioned = host_totals[kOpenDriftSq];
  sums.close_displacement_dot_drift = host_totals[kCloseDot];
  sums.close_drift_sq_preconditioned = host_totals[kCloseDriftSq];
  sums.nonfinite = static_cast<std::size_t>(host_totals[kNonfinite]);
  sums.clamped = static_cast<std::size_t>(host_totals[kClamped]);
  return sums;
}

}  // namespace llcpress::cuda
