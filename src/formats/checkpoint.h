// A Hugging Face checkpoint directory (or a single weights file): config.json
// plus weights as model.safetensors, sharded safetensors with
// model.safetensors.index.json, pytorch_model.bin, or sharded .bin with
// pytorch_model.bin.index.json. Preference: safetensors, then .bin.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "formats/tensor.h"

namespace llcpress::formats {

// GPT-NeoX fields of config.json. Both spellings are accepted:
// rotary_pct / partial_rotary_factor and rotary_emb_base / rope_theta.
struct NeoxConfig {
  std::string model_type = "gpt_neox";
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int intermediate_size = 0;
  int vocab_size = 0;
  int max_position_embeddings = 2048;
  double rotary_pct = 0.25;
  double rotary_emb_base = 10000.0;
  double layer_norm_eps = 1e-5;
  bool use_parallel_residual = true;
  bool tie_word_embeddings = false;
  std::string hidden_act = "gelu";
  nlohmann::json raw;  // the whole file, kept for provenance

  static NeoxConfig from_json(const nlohmann::json& json, const std::string& where);
  static NeoxConfig load(const std::string& path);
  nlohmann::json to_json() const;  // HF layout, loadable by transformers
};

class Checkpoint {
 public:
  // `path`: a directory, a .safetensors file or a .bin file.
  static Checkpoint open(const std::string& path);
  ~Checkpoint();
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;

  const std::string& path() const;
  bool has_config() const;
  const NeoxConfig& config() const;  // throws when there is no config.json
  std::string weights_format() const;  // "safetensors", "safetensors (sharded)", "pytorch_model.bin", ...
  const std::vector<std::string>& weight_files() const;
  const std::vector<TensorInfo>& tensors() const;  // sorted by name
  bool contains(const std::string& name) const;
  TensorView tensor(const std::string& name) const;
  std::int64_t total_parameters() const;  // excluding non-float buffers
  // SHA-256 over the tensors' content in name order (name, dtype, shape,
  // bytes): equal weights give equal hashes whatever the file format.
  std::string content_hash() const;

 private:
  Checkpoint();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llcpress::formats
