// A tiny LossModel for the compression tests: GPT-NeoX tensor names and
// shapes (so structured pruning finds its heads and neurons), and a loss that
// is a known quadratic around the reference weights w*:
//   L_s(w) = c_s + ½ Σ_i h_i (w_i - w*_i)²,  c_s = 2 + 0.01·(s mod 7),
// with one curvature h per tensor role. Its answers are closed forms, so the
// sweep is checked against an independent computation, not against itself.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "model/loss_model.h"

namespace llcpress::compress::testing {

struct SyntheticShape {
  int vocab = 16, hidden = 8, heads = 2, layers = 2;
};

class SyntheticLossModel final : public LossModel {
 public:
  explicit SyntheticLossModel(SyntheticShape shape = {}, std::size_t samples = 40) : shape_(shape), samples_(samples) {
    const std::int64_t V = shape.vocab, H = shape.hidden, I = 4 * shape.hidden;
    table_.add("gpt_neox.embed_in.weight", {V, H}, TensorRole::Embedding);
    for (int layer = 0; layer < shape.layers; ++layer) {
      const std::string prefix = "gpt_neox.layers." + std::to_string(layer) + ".";
      table_.add(prefix + "input_layernorm.weight", {H}, TensorRole::Norm, layer);
      table_.add(prefix + "input_layernorm.bias", {H}, TensorRole::Norm, layer);
      table_.add(prefix + "post_attention_layernorm.weight", {H}, TensorRole::Norm, layer);
      table_.add(prefix + "post_attention_layernorm.bias", {H}, TensorRole::Norm, layer);
      table_.add(prefix + "attention.query_key_value.weight", {3 * H, H}, TensorRole::Linear, layer);
      table_.add(prefix + "attention.query_key_value.bias", {3 * H}, TensorRole::Bias, layer);
      table_.add(prefix + "attention.dense.weight", {H, H}, TensorRole::Linear, layer);
      table_.add(prefix + "attention.dense.bias", {H}, TensorRole::Bias, layer);
      table_.add(prefix + "mlp.dense_h_to_4h.weight", {I, H}, TensorRole::Linear, layer);
      table_.add(prefix + "mlp.dense_h_to_4h.bias", {I}, TensorRole::Bias, layer);
      table_.add(prefix + "mlp.dense_4h_to_h.weight", {H, I}, TensorRole::Linear, layer);
      table_.add(prefix + "mlp.dense_4h_to_h.bias", {H}, TensorRole::Bias, layer);
    }
    table_.add("gpt_neox.final_layer_norm.weight", {H}, TensorRole::Norm);
    table_.add("gpt_neox.final_layer_norm.bias", {H}, TensorRole::Norm);
    table_.add("embed_out.weight", {V, H}, TensorRole::Unembedding);
    parameters_.resize(table_.total_size());
    CounterRng rng(/*seed=*/7, /*stream=*/11);
    rng.fill_normal(parameters_.data(), parameters_.size(), 0, 0.1f);
    reference_ = parameters_;
    curvature_.resize(parameters_.size());
    for (const ParameterView& view : table_.views())
      for (std::size_t i = 0; i < view.size; ++i) curvature_[view.offset + i] = curvature_of(view.role);
  }

  static double curvature_of(TensorRole role) {
    switch (role) {
      case TensorRole::Linear:
        return 3.0;
      case TensorRole::Embedding:
      case TensorRole::Unembedding:
        return 1.0;
      default:
        return 5.0;
    }
  }

  std::span<float> parameters() override { return parameters_; }
  const ParameterTable& parameter_table() const override { return table_; }
  std::size_t num_samples() const override { return samples_; }
  std::size_t max_batch_size() const override { return 6; }

  // ½ Σ h (w - w*)², the part of the loss every sample shares.
  double penalty(std::span<const float> w) const {
    double total = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      double d = double(w[i]) - reference_[i];
      total += 0.5 * curvature_[i] * d * d;
    }
    return total;
  }
  static double offset(std::int64_t sample) { return 2.0 + 0.01 * static_cast<double>(sample % 7); }

  double loss(Batch batch) override {
    ++loss_calls_;
    double total = 0;
    for (std::int64_t sample : batch.samples) {
      if (sample < 0 || static_cast<std::size_t>(sample) >= samples_) throw std::out_of_range("sample");
      total += offset(sample);
    }
    return total / static_cast<double>(batch.samples.size()) + penalty(parameters_);
  }
  double loss_and_grad(Batch batch, std::span<float> gradient) override {
    for (std::size_t i = 0; i < gradient.size(); ++i)
      gradient[i] = static_cast<float>(curvature_[i] * (double(parameters_[i]) - reference_[i]));
    return loss(batch);
  }

  const std::vector<float>& reference() const { return reference_; }
  const SyntheticShape& shape() const { return shape_; }
  int loss_calls() const { return loss_calls_; }

 private:
  SyntheticShape shape_;
  std::size_t samples_;
  ParameterTable table_;
  std::vector<float> parameters_, reference_;
  std::vector<double> curvature_;
  int loss_calls_ = 0;
};

}  // namespace llcpress::compress::testing
