#include "model/neox_loss_model.h"

#include <algorithm>

#include "core/check.h"

namespace llcpress {

NeoxLossModel::NeoxLossModel(GptNeox& model, const formats::MegatronDataset& dataset, int seq_len)
    : model_(&model), batches_(dataset, seq_len) {
  LLC_CHECK(seq_len <= model.max_seq_len(), ConfigError, "--seq-len", "build the model with a larger max_seq_len",
            "seq_len {} exceeds the model's max_seq_len {}", seq_len, model.max_seq_len());
  tokens_.resize(static_cast<std::size_t>(model.max_batch()) * (static_cast<std::size_t>(seq_len) + 1));
}

double NeoxLossModel::loss(Batch batch) {
  LLC_CHECK(!batch.samples.empty(), InputError, "NeoxLossModel::loss", "pass at least one sequence number",
            "empty batch");
  const std::size_t chunk_size = max_batch_size();
  const std::size_t window = static_cast<std::size_t>(seq_len()) + 1;
  double weighted_sum = 0.0;
  for (std::size_t begin = 0; begin < batch.samples.size(); begin += chunk_size) {
    const std::size_t count = std::min(chunk_size, batch.samples.size() - begin);
    std::span<std::int32_t> tokens(tokens_.data(), count * window);
    batches_.read(batch.samples.subspan(begin, count), tokens);
    weighted_sum += model_->forward(tokens.data(), static_cast<int>(count), seq_len()) * static_cast<double>(count);
  }
  return weighted_sum / static_cast<double>(batch.samples.size());
}

double NeoxLossModel::loss_and_grad(Batch batch, std::span<float> gradient) {
  LLC_CHECK(!batch.samples.empty(), InputError, "NeoxLossModel::loss_and_grad", "pass at least one sequence number",
            "empty batch");
  LLC_CHECK(gradient.size() == model_->num_parameters(), InputError, "NeoxLossModel::loss_and_grad",
            "pass a buffer of parameters().size() floats", "gradient has {} floats, the model has {} parameters",
            gradient.size(), model_->num_parameters());
  const std::size_t chunk_size = max_batch_size();
  const std::size_t window = static_cast<std::size_t>(seq_len()) + 1;
  const std::size_t total = batch.samples.size();
  if (total <= chunk_size) {
    std::span<std::int32_t> tokens(tokens_.data(), total * window);
    batches_.read(batch.samples, tokens);
    return model_->forward_backward(tokens.data(), static_cast<int>(total), seq_len(), gradient);
  }
  // Larger than the activation buffers: the mean gradient is the
  // count-weighted mean of the chunk gradients.
  backend::Backend& be = model_->backend();
  if (chunk_gradient_.size() != gradient.size()) chunk_gradient_ = backend::Buffer<float>(be, gradient.size());
  be.zero(gradient.data(), static_cast<std::int64_t>(gradient.size()));
  double weighted_sum = 0.0;
  for (std::size_t begin = 0; begin < total; begin += chunk_size) {
    const std::size_t count = std::min(chunk_size, total - begin);
    std::span<std::int32_t> tokens(tokens_.data(), count * window);
    batches_.read(batch.samples.subspan(begin, count), tokens);
    weighted_sum += model_->forward_backward(tokens.data(), static_cast<int>(count), seq_len(),
                                             {chunk_gradient_.data(), chunk_gradient_.size()}) *
                    static_cast<double>(count);
    const float weight = static_cast<float>(static_cast<double>(count) / static_cast<double>(total));
    be.add_scaled(gradient.data(), chunk_gradient_.data(), weight, static_cast<std::int64_t>(gradient.size()));
  }
  return weighted_sum / static_cast<double>(total);
}

}  // namespace llcpress
