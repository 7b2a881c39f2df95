// The small interface through which the samplers (slt) and the compression
// sweeps (compress) see a model — GPT-NeoX or a known-λ reference model. They
// know nothing else about it (DESIGN.md, Boundaries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "backend/backend.h"
#include "model/parameters.h"

namespace llcpress {

// Which samples of the model's dataset make up a minibatch (sequence numbers
// for a language model, rows for a regression model). Drawing the indices
// is the caller's job, so randomness stays keyed by (seed, chain, step).
struct Batch {
  std::span<const std::int64_t> samples;
};

using backend::MemorySpace;

class LossModel {
 public:
  virtual ~LossModel() = default;

  // The backend whose ops and memory the model uses (the CPU backend unless
  // the model says otherwise). Samplers run their step on it.
  virtual backend::Backend& backend() { return backend::default_backend(); }
  MemorySpace memory_space() { return backend().memory_space(); }

  // The flat parameter buffer, in the backend's memory (pass .data() to the
  // backend's ops; host code dereferences it only when memory_space() is Host).
  virtual std::span<float> parameters() = 0;
  virtual const ParameterTable& parameter_table() const = 0;
  // host ← parameters and parameters ← host (size parameters().size()): the
  // way host code reads or sets parameters whatever memory they live in.
  virtual void read_parameters(std::span<float> host);
  virtual void write_parameters(std::span<const float> host);

  // w*, held ONCE per model: hold_reference() copies the current parameters
  // into the model's reference buffer (allocated on first use),
  // restore_reference() copies it back, reference() is it, in the backend's
  // memory (empty before hold_reference()). Models that share parameters
  // (two NeoxLossModels on one GptNeox) share w* too.
  virtual void hold_reference();
  virtual void restore_reference();
  virtual std::span<const float> reference();

  // Number of samples the Batch indices range over, and the size n that
  // enters nβ = n·β when the caller does not set nβ directly.
  virtual std::size_t num_samples() const = 0;
  // Largest batch the model accepts in one call (activation buffers).
  virtual std::size_t max_batch_size() const = 0;

  // Mean loss over the batch at the current parameters.
  virtual double loss(Batch batch) = 0;
  // Mean loss, and its gradient written (not accumulated) into `gradient`
  // (same size and memory space as parameters()).
  virtual double loss_and_grad(Batch batch, std::span<float> gradient) = 0;

 private:
  backend::Buffer<float> reference_;  // (parameters) w*, for models that do not keep their own
};

}  // namespace llcpress
