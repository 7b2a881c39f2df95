#include "model/loss_model.h"

#include "core/check.h"

namespace llcpress {

void LossModel::read_parameters(std::span<float> host) {
  std::span<float> parameters = this->parameters();
  LLC_REQUIRE(host.size() == parameters.size(), "read_parameters: {} floats for {} parameters", host.size(),
              parameters.size());
  backend().download(host.data(), parameters.data(), parameters.size_bytes());
}

void LossModel::write_parameters(std::span<const float> host) {
  std::span<float> parameters = this->parameters();
  LLC_REQUIRE(host.size() == parameters.size(), "write_parameters: {} floats for {} parameters", host.size(),
              parameters.size());
  backend().upload(parameters.data(), host.data(), parameters.size_bytes());
}

void LossModel::hold_reference() {
  std::span<float> parameters = this->parameters();
  if (reference_.size() != parameters.size()) reference_ = backend::Buffer<float>(backend(), parameters.size());
  backend().copy(reference_.data(), parameters.data(), static_cast<std::int64_t>(parameters.size()));
}

void LossModel::restore_reference() {
  std::span<float> parameters = this->parameters();
  LLC_REQUIRE(reference_.size() == parameters.size(), "restore_reference() before hold_reference()");
  backend().copy(parameters.data(), reference_.data(), static_cast<std::int64_t>(parameters.size()));
}

std::span<const float> LossModel::reference() { return {reference_.data(), reference_.size()}; }

}  // namespace llcpress
