// The data of one SGLD / pSGLD step as the backend op sees it
// (Backend::sampler_step): the per-step scalars, the fixed work split that
// sets the reduction order, and the sums the step returns. The slt module
// builds these from a SamplerConfig and StepOptions (slt/sampler.h); the
// element update itself is sgld_update_element in backend/elementwise.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llcpress::backend {

// Scalars of one step, in float as the update computes them (like the
// reference library's fp32 tensors), converted once on the host from the
// double-valued SamplerConfig, so every backend sees the same floats.
struct SamplerStepScalars {
  float half_epsilon = 0, sqrt_epsilon = 0, nbeta = 0, localization = 0, weight_decay = 0, noise_scale = 1;
  float alpha = 0, one_minus_alpha = 1, rmsprop_eps = 1;
  float box = 0;         // bounding-box half-width; +∞ when there is no box (the clamp never fires)
  bool rmsprop = false;  // pSGLD: update V and precondition
  bool sums = true;      // compute the diagnostic sums (implied by a MALA flag)
  bool open_mala = false, close_mala = false;
  bool apply = true;                   // false: compute the sums, change neither w nor V
  std::uint64_t seed = 0, stream = 0;  // Philox key and stream of this step's normals
};

// One piece of the fixed work split: flat-buffer elements [begin, end), whose
// per-element sampler state (V, MALA displacement) starts at `compact` in
// the sampler's compact buffers. Chunk boundaries are a function of the
// sampled ranges alone (slt/sampler.cpp), so the order in which the sums are
// added never depends on a thread count or launch configuration.
struct SamplerChunk {
  std::size_t begin = 0, end = 0, compact = 0;
};

// Sums over the sampled elements for one step. On the CPU: float lanes per
// sub-block of 1024 elements, folded into double per chunk, chunks added in
// order (slt/sampler.h documents the accuracy).
struct StepSums {
  double distance_sq = 0;            // ‖w − w*‖² before the step
  double weight_sq = 0;              // ‖w‖² before the step
  double gradient_sq = 0;            // ‖g‖² (raw mean-loss gradient)
  double drift_gradient_sq = 0;      // ‖(ε/2)·P⊙nβg‖²
  double drift_localization_sq = 0;  // ‖(ε/2)·P⊙γ(w − w*)‖²
  double drift_weight_decay_sq = 0;  // ‖(ε/2)·P⊙λ_wd·w‖²
  double noise_sq = 0;               // ‖√ε·√P⊙σξ‖²
  double distance_after_sq = 0;      // ‖w_new − w*‖²
  // MALA pieces (zero unless requested): δ = w_new − w, ∇U = d (the drift).
  double open_displacement_dot_drift = 0;    // δᵀ∇U(w)           (opening a transition at this step)
  double open_drift_sq_preconditioned = 0;   // ∇U(w)ᵀ P ∇U(w)
  double close_displacement_dot_drift = 0;   // δ_prevᵀ∇U(w)      (closing the previous transition)
  double close_drift_sq_preconditioned = 0;  // ∇U(w)ᵀ P_prev ∇U(w)
  std::size_t nonfinite = 0;                 // updated weights that are NaN or ±Inf
  std::size_t clamped = 0;                   // weights the bounding box moved
};

// total += part, field by field (the order chunks are added in is the caller's).
inline void add_sums(StepSums& total, const StepSums& part) {
  total.distance_sq += part.distance_sq;
  total.weight_sq += part.weight_sq;
  total.gradient_sq += part.gradient_sq;
  total.drift_gradient_sq += part.drift_gradient_sq;
  total.drift_localization_sq += part.drift_localization_sq;
  total.drift_weight_decay_sq += part.drift_weight_decay_sq;
  total.noise_sq += part.noise_sq;
  total.distance_after_sq += part.distance_after_sq;
  total.open_displacement_dot_drift += part.open_displacement_dot_drift;
  total.open_drift_sq_preconditioned += part.open_drift_sq_preconditioned;
  total.close_displacement_dot_drift += part.close_displacement_dot_drift;
  total.close_drift_sq_preconditioned += part.close_drift_sq_preconditioned;
  total.nonfinite += part.nonfinite;
  total.clamped += part.clamped;
}

}  // namespace llcpress::backend
