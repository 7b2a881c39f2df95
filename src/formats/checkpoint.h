// A Hugging Face checkpoint directory (or a single weights file): config.json
// plus weights as model.safetensors, sharded safetensors with
// model.safetensors.index.json, pytorch_model.bin, or sharded .bin with
// pytorch_model.bin.index.json. Preference: safetensors, then .bin.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/tensor.h"

namespace llcpress::formats {

// GPT-NeoX fields of config.json. Three spellings of the rotary settings are
// accepted: rotary_pct / rotary_emb_base (Pythia's files), partial_rotary_factor
// / rope_theta (transformers 4.x), and a rope_parameters object holding
// partial_rotary_factor / rope_theta / rope_type "default" (transformers 5).
// When several are present they must agree.
struct NeoxConfig {
  std::string model_type = "gpt_neox";
  int hidden_size = 0;          // required
  int num_hidden_layers = 0;    // required
  int num_attention_heads = 0;  // required
  int intermediate_size = 0;    // default 4 * hidden_size
  int vocab_size = 0;           // required
  int max_position_embeddings = 2048;
  double rotary_pct = 0.25;
  double rotary_emb_base = 10000.0;
  double layer_norm_eps = 1e-5;
  bool use_parallel_residual = true;
  bool tie_word_embeddings = false;
  bool attention_bias = true;  // query_key_value and dense carry biases
  std::string hidden_act = "gelu";
  nlohmann::json raw;  // the whole file, kept for provenance

  int head_size() const { return hidden_size / num_attention_heads; }
  int rotary_dims() const;  // int(head_size * rotary_pct), as transformers computes it

  // Throws InputError naming `where` and the offending key.
  static NeoxConfig from_json(const nlohmann::json& json, const std::string& where);
  static NeoxConfig load(const std::string& path);
  nlohmann::json to_json() const;  // HF layout, loadable by transformers
};

// Buffers the official GPT-NeoX files carry besides the weights (REFERENCE §1):
// the causal mask attention.bias, attention.masked_bias and
// attention.rotary_emb.inv_freq. They are listed by Checkpoint::tensors() but
// not counted as parameters and not hashed.
bool is_ignored_buffer(const std::string& tensor_name);

class Checkpoint {
 public:
  // `path`: a directory, a .safetensors file, a .bin file or a *.index.json.
  // A directory's config.json is read when present. Sharded checkpoints are
  // validated: every shard the index names exists, every tensor is in the
  // shard the index says, and no shard holds a tensor the index omits.
  static Checkpoint open(const std::string& path);
  ~Checkpoint();
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;

  const std::string& path() const;
  bool has_config() const;
  const NeoxConfig& config() const;  // throws when there is no config.json
  // "safetensors", "safetensors (sharded)", "pytorch_model.bin", "pytorch_model.bin (sharded)"
  std::string weights_format() const;
  const std::vector<std::string>& weight_files() const;  // full paths, in shard order
  const std::vector<TensorInfo>& tensors() const;        // sorted by name
  bool contains(const std::string& name) const;
  TensorView tensor(const std::string& name) const;
  // Elements of every tensor except the ignored buffers (is_ignored_buffer).
  std::int64_t total_parameters() const;
  // SHA-256 (hex) over the tensors except the ignored buffers, in name order;
  // each contributes its name, dtype name, shape and raw bytes, length-framed.
  // The same weights in the same dtype give the same hash whatever the file
  // format or sharding (safetensors, .bin, one file or many). The dtype is part
  // of the content: the fp16 and the fp32 copy of a model hash differently.
  // Computed on first call (reads every byte once), then cached; thread-safe.
  std::string content_hash() const;

 private:
  Checkpoint();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llcpress::formats
