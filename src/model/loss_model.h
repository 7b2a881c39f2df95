// The small interface through which the samplers (slt) and the compression
// sweeps (compress) see a model — GPT-NeoX or a known-λ reference model. They
// know nothing else about it (DESIGN.md, Boundaries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "model/parameters.h"

namespace llcpress {

// Which samples of the model's dataset make up a minibatch (sequence numbers
// for a language model, rows for a regression model). Drawing the indices
// is the caller's job, so randomness stays keyed by (seed, chain, step).
struct Batch {
  std::span<const std::int64_t> samples;
};

enum class MemorySpace : std::uint8_t { Host, Device };

class LossModel {
 public:
  virtual ~LossModel() = default;

  // The flat parameter buffer (host or device memory, see memory_space()).
  virtual std::span<float> parameters() = 0;
  virtual const ParameterTable& parameter_table() const = 0;
  virtual MemorySpace memory_space() const { return MemorySpace::Host; }

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
};

}  // namespace llcpress
