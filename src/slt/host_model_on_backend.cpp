#include "slt/host_model_on_backend.h"

#include "core/check.h"

namespace llcpress::slt {

HostModelOnBackend::HostModelOnBackend(LossModel& host_model, backend::Backend& backend)
    : host_model_(&host_model), backend_(&backend), parameters_(backend, host_model.parameters().size()) {
  LLC_REQUIRE(host_model.memory_space() == MemorySpace::Host, "HostModelOnBackend wraps a host-memory model");
  std::vector<float> host(parameters_.size());
  host_model.read_parameters(host);
  parameters_.upload(host);
  host_gradient_.resize(parameters_.size());
}

HostModelOnBackend::HostModelOnBackend(std::unique_ptr<LossModel> host_model, backend::Backend& backend)
    : HostModelOnBackend(*host_model, backend) {
  owned_host_model_ = std::move(host_model);
}

void HostModelOnBackend::sync_host_parameters() {
  std::span<float> host = host_model_->parameters();
  backend_->download(host.data(), parameters_.data(), host.size_bytes());
}

double HostModelOnBackend::loss(Batch batch) {
  sync_host_parameters();
  return host_model_->loss(batch);
}

double HostModelOnBackend::loss_and_grad(Batch batch, std::span<float> gradient) {
  LLC_REQUIRE(gradient.size() == host_gradient_.size(), "loss_and_grad: gradient of {} floats for {} parameters",
              gradient.size(), host_gradient_.size());
  sync_host_parameters();
  const double value = host_model_->loss_and_grad(batch, host_gradient_);
  backend_->upload(gradient.data(), host_gradient_.data(), host_gradient_.size() * sizeof(float));
  return value;
}

}  // namespace llcpress::slt
