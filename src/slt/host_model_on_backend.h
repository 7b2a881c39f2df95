// A host-memory LossModel (the closed-form reference models of calibrate)
// whose parameters live on another backend, so that the sampler — the part
// `calibrate` checks against a known λ — runs there: `calibrate --device
// cuda` tests the CUDA sampler step (SGLD / pSGLD update, localization,
// Philox noise, MALA sums) on models whose λ is known exactly.
//
// The loss itself stays on the host (the models are a few parameters and a
// closed form): loss() downloads the parameters into the host model, and
// loss_and_grad() also uploads the host gradient into the backend's
// gradient buffer. The numbers are the host model's, bit for bit; only the
// memory the sampler reads and writes moves.
#pragma once

#include <memory>
#include <vector>

#include "model/loss_model.h"

namespace llcpress::slt {

class HostModelOnBackend : public LossModel {
 public:
  // `host_model` (host memory) must outlive this object; its current
  // parameters are uploaded to `backend`.
  HostModelOnBackend(LossModel& host_model, backend::Backend& backend);
  // The same, owning the host model.
  HostModelOnBackend(std::unique_ptr<LossModel> host_model, backend::Backend& backend);

  backend::Backend& backend() override { return *backend_; }
  std::span<float> parameters() override { return {parameters_.data(), parameters_.size()}; }
  const ParameterTable& parameter_table() const override { return host_model_->parameter_table(); }
  std::size_t num_samples() const override { return host_model_->num_samples(); }
  std::size_t max_batch_size() const override { return host_model_->max_batch_size(); }
  double loss(Batch batch) override;
  double loss_and_grad(Batch batch, std::span<float> gradient) override;

 private:
  // host model ← the backend's parameters.
  void sync_host_parameters();

  std::unique_ptr<LossModel> owned_host_model_;  // null when the caller owns it
  LossModel* host_model_;
  backend::Backend* backend_;
  backend::Buffer<float> parameters_;  // (parameters) on backend_
  std::vector<float> host_gradient_;   // (parameters)
};

}  // namespace llcpress::slt
