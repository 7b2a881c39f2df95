// GPT-NeoX as a LossModel (the interface the samplers and compression sweeps
// see): a model, a token dataset and a sequence length. Batch.samples are
// sequence numbers of the dataset; the loss is the mean next-token
// cross-entropy over batch·seq_len predictions.
#pragma once

#include <cstdint>
#include <vector>

#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/loss_model.h"
#include "model/token_batches.h"

namespace llcpress {

class NeoxLossModel : public LossModel {
 public:
  // `model` and `dataset` must outlive this object. seq_len <= model.max_seq_len().
  NeoxLossModel(GptNeox& model, const formats::MegatronDataset& dataset, int seq_len);

  backend::Backend& backend() override { return model_->backend(); }
  std::span<float> parameters() override {
    return {model_->parameter_buffer().data(), model_->parameter_buffer().size()};
  }
  void read_parameters(std::span<float> host) override { model_->read_parameters(host); }
  void write_parameters(std::span<const float> host) override { model_->write_parameters(host); }
  // w* is the GptNeox's one copy (shared by every NeoxLossModel on it).
  void hold_reference() override { model_->hold_reference(); }
  void restore_reference() override { model_->restore_reference(); }
  std::span<const float> reference() override {
    if (!model_->has_reference()) return {};
    return {model_->reference_data(), model_->num_parameters()};
  }
  const ParameterTable& parameter_table() const override { return model_->parameter_table(); }
  std::size_t num_samples() const override { return batches_.num_sequences(); }
  std::size_t max_batch_size() const override { return static_cast<std::size_t>(model_->max_batch()); }

  // Batches larger than max_batch_size() are evaluated in chunks of at most
  // max_batch_size() sequences; the result is the mean over all of them
  // (every sequence contributes seq_len predictions, so chunk means are
  // weighted by their sequence counts).
  double loss(Batch batch) override;
  double loss_and_grad(Batch batch, std::span<float> gradient) override;

  GptNeox& model() { return *model_; }
  const TokenBatches& batches() const { return batches_; }
  int seq_len() const { return batches_.seq_len(); }

 private:
  GptNeox* model_;
  TokenBatches batches_;
  std::vector<std::int32_t> tokens_;       // (max_batch, seq_len + 1)
  backend::Buffer<float> chunk_gradient_;  // (num_parameters) only for batches above max_batch
};

}  // namespace llcpress
