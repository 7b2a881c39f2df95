#include "model/gpt_neox.h"

#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "backend/backend.h"
#include "core/check.h"
#include "core/log.h"
#include "core/rng.h"
#include "formats/safetensors.h"
#include "model/ops/gelu.h"
#include "model/ops/rotary.h"

namespace llcpress {

namespace {

int head_dim_of(const formats::NeoxConfig& config) { return config.hidden_size / config.num_attention_heads; }

// transformers: int(head_size * partial_rotary_factor), a Python float product truncated.
int rotary_dims_of(const formats::NeoxConfig& config) {
  return static_cast<int>(static_cast<double>(head_dim_of(config)) * config.rotary_pct);
}

std::string layer_prefix(int layer) { return fmt::format("gpt_neox.layers.{}.", layer); }

}  // namespace

void validate_neox_config(const formats::NeoxConfig& config, const std::string& where) {
  const char* hint = "use a GPT-NeoX (Pythia) config.json as transformers writes it";
  LLC_CHECK(config.model_type == "gpt_neox", ConfigError, where, hint, "model_type is '{}', expected 'gpt_neox'",
            config.model_type);
  LLC_CHECK(config.hidden_size > 0 && config.num_hidden_layers > 0 && config.num_attention_heads > 0 &&
                config.intermediate_size > 0 && config.vocab_size > 0,
            ConfigError, where, hint,
            "sizes must be positive: hidden_size {}, num_hidden_layers {}, num_attention_heads {}, "
            "intermediate_size {}, vocab_size {}",
            config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size,
            config.vocab_size);
  LLC_CHECK(config.hidden_size % config.num_attention_heads == 0, ConfigError, where, hint,
            "hidden_size {} is not divisible by num_attention_heads {}", config.hidden_size,
            config.num_attention_heads);
  LLC_CHECK(config.rotary_pct >= 0.0 && config.rotary_pct <= 1.0, ConfigError, where, hint,
            "rotary_pct (partial_rotary_factor) {} is outside [0, 1]", config.rotary_pct);
  LLC_CHECK(rotary_dims_of(config) % 2 == 0, ConfigError, where,
            "choose rotary_pct so that head_dim · rotary_pct is even",
            "rotary dimensions int({} · {}) = {} are odd; rotate-half needs an even count", head_dim_of(config),
            config.rotary_pct, rotary_dims_of(config));
  LLC_CHECK(config.rotary_emb_base > 0.0, ConfigError, where, hint, "rotary_emb_base (rope_theta) {} must be > 0",
            config.rotary_emb_base);
  LLC_CHECK(config.layer_norm_eps > 0.0, ConfigError, where, hint, "layer_norm_eps {} must be > 0",
            config.layer_norm_eps);
  LLC_CHECK(!config.tie_word_embeddings, ConfigError, where,
            "Pythia and GPT-NeoX checkpoints have an untied embed_out; set tie_word_embeddings to false",
            "tie_word_embeddings = true is not supported");
  LLC_CHECK(ops::gelu_kind_from_name(config.hidden_act).has_value(), ConfigError, where,
            "supported: gelu (exact erf), gelu_new, gelu_fast, gelu_pytorch_tanh (tanh approximation)",
            "hidden_act '{}' is not supported", config.hidden_act);
  LLC_CHECK(config.attention_bias, ConfigError, where,
            "only GPT-NeoX attention with biases (attention_bias = true) is implemented",
            "attention_bias = false is not supported");
  const nlohmann::json& raw = config.raw;
  if (raw.is_object()) {
    auto check_rope_type = [&](const nlohmann::json& rope, const char* key) {
      if (!rope.is_object()) return;
      const std::string type = rope.value("rope_type", rope.value("type", std::string("default")));
      LLC_CHECK(type == "default", ConfigError, where,
                "only the plain rotary embedding (rope_type default) is implemented",
                "{}.rope_type '{}' is not supported", key, type);
    };
    if (raw.contains("rope_scaling")) check_rope_type(raw["rope_scaling"], "rope_scaling");
    if (raw.contains("rope_parameters")) check_rope_type(raw["rope_parameters"], "rope_parameters");
  }
}

ParameterTable make_neox_parameter_table(const formats::NeoxConfig& config) {
  const std::int64_t hidden = config.hidden_size, intermediate = config.intermediate_size, vocab = config.vocab_size;
  ParameterTable table;
  table.add("gpt_neox.embed_in.weight", {vocab, hidden}, TensorRole::Embedding);
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = layer_prefix(layer);
    table.add(prefix + "input_layernorm.weight", {hidden}, TensorRole::Norm, layer);
    table.add(prefix + "input_layernorm.bias", {hidden}, TensorRole::Norm, layer);
    table.add(prefix + "post_attention_layernorm.weight", {hidden}, TensorRole::Norm, layer);
    table.add(prefix + "post_attention_layernorm.bias", {hidden}, TensorRole::Norm, layer);
    table.add(prefix + "attention.query_key_value.weight", {3 * hidden, hidden}, TensorRole::Linear, layer);
    table.add(prefix + "attention.query_key_value.bias", {3 * hidden}, TensorRole::Bias, layer);
    table.add(prefix + "attention.dense.weight", {hidden, hidden}, TensorRole::Linear, layer);
    table.add(prefix + "attention.dense.bias", {hidden}, TensorRole::Bias, layer);
    table.add(prefix + "mlp.dense_h_to_4h.weight", {intermediate, hidden}, TensorRole::Linear, layer);
    table.add(prefix + "mlp.dense_h_to_4h.bias", {intermediate}, TensorRole::Bias, layer);
    table.add(prefix + "mlp.dense_4h_to_h.weight", {hidden, intermediate}, TensorRole::Linear, layer);
    table.add(prefix + "mlp.dense_4h_to_h.bias", {hidden}, TensorRole::Bias, layer);
  }
  table.add("gpt_neox.final_layer_norm.weight", {hidden}, TensorRole::Norm);
  table.add("gpt_neox.final_layer_norm.bias", {hidden}, TensorRole::Norm);
  table.add("embed_out.weight", {vocab, hidden}, TensorRole::Unembedding);
  return table;
}

double neox_training_flops(const formats::NeoxConfig& config, int batch, int seq_len) {
  const double hidden = config.hidden_size, intermediate = config.intermediate_size, vocab = config.vocab_size;
  const double layers = config.num_hidden_layers;
  const double tokens = static_cast<double>(batch) * seq_len;
  // Weights that enter a GEMM: QKV 3H², dense H², MLP 2·H·I per layer, and the
  // unembedding V·H (the embedding is a lookup). Forward 2 FLOPs per weight
  // per token, backward 4 (input and weight gradients).
  const double matmul_weights = layers * (4.0 * hidden * hidden + 2.0 * hidden * intermediate) + vocab * hidden;
  // Causal attention: T(T+1)/2 (query, key) pairs per sequence, each costing
  // 2·H for q·k and 2·H for p·v forward, three times that forward+backward.
  // The probabilities we recompute in the backward pass are not counted.
  const double pairs = static_cast<double>(batch) * seq_len * (seq_len + 1.0) / 2.0;
  return 6.0 * matmul_weights * tokens + 12.0 * layers * hidden * pairs;
}

// ------------------------------------------------------------------ activations

struct GptNeox::Activations {
  struct LayerOffsets {
    std::size_t input_norm_weight, input_norm_bias, post_norm_weight, post_norm_bias;
    std::size_t qkv_weight, qkv_bias, dense_weight, dense_bias;
    std::size_t up_weight, up_bias, down_weight, down_bias;
  };

  Activations(backend::Backend& backend, const formats::NeoxConfig& config, const ParameterTable& table, int max_batch,
              int max_seq_len, int loss_chunk_rows)
      : hidden(config.hidden_size),
        intermediate(config.intermediate_size),
        vocab(config.vocab_size),
        layers(config.num_hidden_layers),
        heads(config.num_attention_heads),
        head_dim(head_dim_of(config)),
        rotary_dims(rotary_dims_of(config)),
        max_tokens(static_cast<std::int64_t>(max_batch) * max_seq_len),
        chunk_rows(std::min<std::int64_t>(max_tokens, loss_chunk_rows)),
        gelu(*ops::gelu_kind_from_name(config.hidden_act)) {
    // Every buffer starts zeroed (as the host vectors it replaced did).
    auto make = [&backend](backend::Buffer<float>& buffer, std::size_t count) {
      buffer = backend::Buffer<float>(backend, count);
      backend.zero(buffer.data(), static_cast<std::int64_t>(count));
    };
    const auto tokens = static_cast<std::size_t>(max_tokens);
    const auto h = static_cast<std::size_t>(hidden), i = static_cast<std::size_t>(intermediate);
    const auto l = static_cast<std::size_t>(layers);
    inputs = backend::Buffer<std::int32_t>(backend, tokens);
    targets = backend::Buffer<std::int32_t>(backend, tokens);
    host_inputs.assign(tokens, 0);
    host_targets.assign(tokens, 0);
    make(residual, (l + 1) * layer_stride(hidden));
    if (!config.use_parallel_residual) make(residual_mid, l * layer_stride(hidden));
    make(input_norm_out, l * layer_stride(hidden));
    make(post_norm_out, l * layer_stride(hidden));
    make(input_norm_mean, l * layer_stride(1));
    make(input_norm_rstd, l * layer_stride(1));
    make(post_norm_mean, l * layer_stride(1));
    make(post_norm_rstd, l * layer_stride(1));
    make(qkv, l * layer_stride(3 * hidden));
    make(attention_lse, l * layer_stride(heads));
    make(attention_out, l * layer_stride(hidden));
    make(mlp_pre, l * layer_stride(intermediate));
    make(mlp_act, l * layer_stride(intermediate));
    make(final_out, tokens * h);
    make(final_mean, tokens);
    make(final_rstd, tokens);
    make(logits, static_cast<std::size_t>(chunk_rows) * static_cast<std::size_t>(vocab));
    make(token_losses, tokens);
    make(logits_lse, tokens);
    make(d_residual, tokens * h);
    make(d_normalized, tokens * h);
    make(d_attention_out, tokens * h);
    make(d_qkv, tokens * 3 * h);
    make(d_mlp, tokens * i);
    const int half = rotary_dims / 2;
    make(rotary_cos, static_cast<std::size_t>(max_seq_len) * half);
    make(rotary_sin, static_cast<std::size_t>(max_seq_len) * half);
    if (half > 0) {
      // Computed on the host (fp32 angles as transformers does), uploaded once.
      std::vector<float> cos_table(rotary_cos.size()), sin_table(rotary_sin.size());
      ops::rotary_tables(cos_table.data(), sin_table.data(), max_seq_len, rotary_dims, config.rotary_emb_base);
      rotary_cos.upload(cos_table);
      rotary_sin.upload(sin_table);
    }
    backend.reserve_attention(max_seq_len, head_dim);

    embed_in = table.at("gpt_neox.embed_in.weight").offset;
    final_weight = table.at("gpt_neox.final_layer_norm.weight").offset;
    final_bias = table.at("gpt_neox.final_layer_norm.bias").offset;
    embed_out = table.at("embed_out.weight").offset;
    for (int layer = 0; layer < layers; ++layer) {
      const std::string prefix = layer_prefix(layer);
      auto at = [&](const char* name) { return table.at(prefix + name).offset; };
      layer_offsets.push_back({at("input_layernorm.weight"), at("input_layernorm.bias"),
                               at("post_attention_layernorm.weight"), at("post_attention_layernorm.bias"),
                               at("attention.query_key_value.weight"), at("attention.query_key_value.bias"),
                               at("attention.dense.weight"), at("attention.dense.bias"), at("mlp.dense_h_to_4h.weight"),
                               at("mlp.dense_h_to_4h.bias"), at("mlp.dense_4h_to_h.weight"),
                               at("mlp.dense_4h_to_h.bias")});
    }
  }

  // Floats per layer in a per-layer buffer of `width` values per token: sized
  // for max_tokens (so addresses never move) and rounded up to whole 64-byte
  // lines so every layer's slice starts aligned (aligned_allocator.h).
  std::size_t layer_stride(std::int64_t width) const {
    constexpr std::size_t line = kBufferAlignment / sizeof(float);
    return (static_cast<std::size_t>(max_tokens * width) + line - 1) / line * line;
  }
  float* at(backend::Buffer<float>& buffer, int layer, std::int64_t width) {
    return buffer.data() + static_cast<std::size_t>(layer) * layer_stride(width);
  }

  std::size_t bytes() const {
    std::size_t floats = 0;
    for (const backend::Buffer<float>* buffer :
         {&residual,        &residual_mid,    &input_norm_out, &post_norm_out, &input_norm_mean,
          &input_norm_rstd, &post_norm_mean,  &post_norm_rstd, &qkv,           &attention_lse,
          &attention_out,   &mlp_pre,         &mlp_act,        &final_out,     &final_mean,
          &final_rstd,      &logits,          &token_losses,   &logits_lse,    &d_residual,
          &d_normalized,    &d_attention_out, &d_qkv,          &d_mlp,         &rotary_cos,
          &rotary_sin})
      floats += buffer->size();
    return floats * sizeof(float) + (inputs.size() + targets.size()) * sizeof(std::int32_t);
  }

  int hidden, intermediate, vocab, layers, heads, head_dim, rotary_dims;
  std::int64_t max_tokens;
  std::int64_t chunk_rows;  // token rows per loss-head chunk (≤ max_tokens)
  ops::GeluKind gelu;
  // The logits buffer holds the logits of the last forward's only chunk
  // (rows ≤ chunk_rows), so backward() need not recompute them.
  bool logits_hold_single_chunk = false;

  std::vector<std::int32_t> host_inputs;   // (max_tokens)  validated tokens[:, :T] on the host, before upload
  std::vector<std::int32_t> host_targets;  // (max_tokens)  validated tokens[:, 1:] on the host, before upload
  backend::Buffer<std::int32_t> inputs;    // (max_tokens)  tokens[:, :T] flattened
  backend::Buffer<std::int32_t> targets;   // (max_tokens)  tokens[:, 1:] flattened
  backend::Buffer<float> residual;         // (L + 1, max_tokens, H)  stream entering layer l; [L] after the last
  backend::Buffer<float> residual_mid;     // (L, max_tokens, H)  x + attention (sequential residual only)
  backend::Buffer<float> input_norm_out;   // (L, max_tokens, H)
  backend::Buffer<float> post_norm_out;    // (L, max_tokens, H)
  backend::Buffer<float> input_norm_mean;  // (L, max_tokens)
  backend::Buffer<float> input_norm_rstd;  // (L, max_tokens)
  backend::Buffer<float> post_norm_mean;   // (L, max_tokens)
  backend::Buffer<float> post_norm_rstd;   // (L, max_tokens)
  backend::Buffer<float> qkv;              // (L, max_tokens, 3H)  after rotary
  backend::Buffer<float> attention_lse;    // (L, max_batch, heads, max_seq_len) packed as (L, B, heads, T)
  backend::Buffer<float> attention_out;    // (L, max_tokens, H)  heads concatenated, before `dense`
  backend::Buffer<float> mlp_pre;          // (L, max_tokens, I)  before GELU
  backend::Buffer<float> mlp_act;          // (L, max_tokens, I)  after GELU
  backend::Buffer<float> final_out;        // (max_tokens, H)
  backend::Buffer<float> final_mean;       // (max_tokens)
  backend::Buffer<float> final_rstd;       // (max_tokens)
  backend::Buffer<float> logits;           // (chunk_rows, V)  one chunk's logits, then d(loss)/d(logits)
  backend::Buffer<float> token_losses;     // (max_tokens)
  backend::Buffer<float> logits_lse;       // (max_tokens)
  backend::Buffer<float> d_residual;       // (max_tokens, H)
  backend::Buffer<float> d_normalized;     // (max_tokens, H)  gradient at a layer-norm output
  backend::Buffer<float> d_attention_out;  // (max_tokens, H)
  backend::Buffer<float> d_qkv;            // (max_tokens, 3H)
  backend::Buffer<float> d_mlp;            // (max_tokens, I)
  backend::Buffer<float> rotary_cos;       // (max_seq_len, rotary_dims / 2)
  backend::Buffer<float> rotary_sin;       // (max_seq_len, rotary_dims / 2)

  std::size_t embed_in = 0, final_weight = 0, final_bias = 0, embed_out = 0;
  std::vector<LayerOffsets> layer_offsets;
};

// ------------------------------------------------------------------ model

GptNeox::GptNeox(const formats::NeoxConfig& config, int max_batch, int max_seq_len, backend::Backend& backend,
                 int loss_chunk_rows)
    : config_(config), backend_(&backend), max_batch_(max_batch), max_seq_len_(max_seq_len) {
  LLC_CHECK(loss_chunk_rows >= 0, ConfigError, "GptNeox", "pass 0 (the default) or a positive row count",
            "loss_chunk_rows {} is negative", loss_chunk_rows);
  validate_neox_config(config_, "GPT-NeoX config");
  LLC_CHECK(max_batch > 0 && max_seq_len > 0, ConfigError, "GptNeox", "pass a batch size and sequence length >= 1",
            "max_batch {} and max_seq_len {} must be positive", max_batch, max_seq_len);
  table_ = make_neox_parameter_table(config_);
  parameters_ = backend::Buffer<float>(backend, table_.total_size());
  backend.zero(parameters_.data(), static_cast<std::int64_t>(parameters_.size()));
  activations_ = std::make_unique<Activations>(backend, config_, table_, max_batch, max_seq_len,
                                               loss_chunk_rows > 0 ? loss_chunk_rows : kDefaultLossChunkRows);
}

GptNeox::~GptNeox() = default;

int GptNeox::loss_chunk_rows() const { return static_cast<int>(activations_->chunk_rows); }

std::unique_ptr<GptNeox> GptNeox::from_checkpoint(const formats::Checkpoint& checkpoint, int max_batch, int max_seq_len,
                                                  backend::Backend& backend) {
  auto model = std::make_unique<GptNeox>(checkpoint.config(), max_batch, max_seq_len, backend);
  model->load(checkpoint);
  return model;
}

std::span<float> GptNeox::parameter(const std::string& name) { return table_.slice(parameters(), table_.at(name)); }

std::span<float> GptNeox::parameters() { return parameters_.host_span(); }
std::span<const float> GptNeox::parameters() const { return parameters_.host_span(); }

void GptNeox::read_parameters(std::span<float> host) const { parameters_.download(host); }

void GptNeox::write_parameters(std::span<const float> host) {
  parameters_.upload(host);
  backward_ready_ = false;
}

void GptNeox::hold_reference() {
  if (reference_.size() != parameters_.size()) reference_ = backend::Buffer<float>(*backend_, parameters_.size());
  backend_->copy(reference_.data(), parameters_.data(), static_cast<std::int64_t>(parameters_.size()));
}

void GptNeox::restore_reference() {
  LLC_REQUIRE(has_reference(), "restore_reference() before hold_reference()");
  backend_->copy(parameters_.data(), reference_.data(), static_cast<std::int64_t>(parameters_.size()));
  backward_ready_ = false;
}

void GptNeox::release_reference() { reference_ = backend::Buffer<float>(); }

const float* GptNeox::reference_data() const {
  LLC_REQUIRE(has_reference(), "reference_data() before hold_reference()");
  return reference_.data();
}

// Runs `fill(values)` on a host array of view.size floats for each view and
// stores the result in the parameters: in place for host memory, through a
// staging array (one tensor at a time) for device memory.
template <typename Fill>
void GptNeox::fill_tensors(Fill fill) {
  const bool host = parameters_.space() == backend::MemorySpace::Host;
  std::vector<float> staging;
  const auto& views = table_.views();
  for (std::size_t index = 0; index < views.size(); ++index) {
    const ParameterView& view = views[index];
    float* values = parameters_.data() + view.offset;
    if (!host) {
      staging.resize(view.size);
      values = staging.data();
    }
    fill(index, view, values);
    if (!host) backend_->upload(parameters_.data() + view.offset, values, view.size * sizeof(float));
  }
  backward_ready_ = false;
}

void GptNeox::init_random(std::uint64_t seed, float init_std) {
  const double layers = config_.num_hidden_layers, hidden = config_.hidden_size;
  // GPT-NeoX "wang_init" for the projections that write into the residual stream.
  const float output_std = static_cast<float>(2.0 / (layers * std::sqrt(hidden)));
  auto ends_with = [](const std::string& name, std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  fill_tensors([&](std::size_t index, const ParameterView& view, float* values) {
    const bool is_weight = ends_with(view.name, ".weight");
    if (view.role == TensorRole::Norm) {
      std::fill(values, values + view.size, is_weight ? 1.0f : 0.0f);
    } else if (view.role == TensorRole::Bias) {
      std::fill(values, values + view.size, 0.0f);
    } else {
      const bool output_projection =
          ends_with(view.name, "attention.dense.weight") || ends_with(view.name, "mlp.dense_4h_to_h.weight");
      CounterRng(seed, stream_id(kInitStream, index))
          .fill_normal(values, view.size, 0, output_projection ? output_std : init_std);
    }
  });
}

void GptNeox::load(const formats::Checkpoint& checkpoint) {
  const std::string& where = checkpoint.path();
  if (checkpoint.has_config()) {
    // Settings that change the computation without changing any shape: a
    // mismatch would load cleanly and compute another model.
    const formats::NeoxConfig& theirs = checkpoint.config();
    LLC_CHECK(theirs.rotary_pct == config_.rotary_pct && theirs.rotary_emb_base == config_.rotary_emb_base &&
                  theirs.use_parallel_residual == config_.use_parallel_residual &&
                  theirs.hidden_act == config_.hidden_act && theirs.layer_norm_eps == config_.layer_norm_eps,
              InputError, where, "build the model from this checkpoint's config (GptNeox::from_checkpoint)",
              "config.json computes a different model: rotary_pct {} vs {}, rotary_emb_base {} vs {}, "
              "use_parallel_residual {} vs {}, hidden_act {} vs {}, layer_norm_eps {} vs {} (checkpoint vs model)",
              theirs.rotary_pct, config_.rotary_pct, theirs.rotary_emb_base, config_.rotary_emb_base,
              theirs.use_parallel_residual, config_.use_parallel_residual, theirs.hidden_act, config_.hidden_act,
              theirs.layer_norm_eps, config_.layer_norm_eps);
  }
  fill_tensors([&](std::size_t, const ParameterView& view, float* values) {
    LLC_CHECK(checkpoint.contains(view.name), InputError, where,
              "the checkpoint must be a GPT-NeoX model with the config's layer count and HF tensor names",
              "tensor '{}' is missing", view.name);
    const formats::TensorView tensor = checkpoint.tensor(view.name);
    LLC_CHECK(tensor.info.shape == view.shape, InputError, where,
              "config.json and the weights disagree; check hidden_size, intermediate_size, vocab_size",
              "tensor '{}' has shape [{}], the config implies [{}]", view.name, fmt::join(tensor.info.shape, ", "),
              fmt::join(view.shape, ", "));
    LLC_CHECK(formats::dtype_is_float(tensor.info.dtype), InputError, where,
              "weights must be stored as F32, F16, BF16 or F64", "tensor '{}' has dtype {}", view.name,
              formats::dtype_name(tensor.info.dtype));
    tensor.copy_to_f32(values);
  });
  std::vector<std::string> unexpected;
  for (const formats::TensorInfo& info : checkpoint.tensors())
    if (!table_.find(info.name) && !formats::is_ignored_buffer(info.name)) unexpected.push_back(info.name);
  LLC_CHECK(unexpected.empty(), InputError, where,
            "this is not the GPT-NeoX architecture the config describes (or it has extra heads)",
            "{} unexpected tensor(s), e.g. '{}'", unexpected.size(), unexpected.empty() ? "" : unexpected.front());
  backward_ready_ = false;
}

void GptNeox::save(const std::string& directory) const {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  LLC_CHECK(!error, IoError, directory, "check the path and permissions", "cannot create the directory: {}",
            error.message());
  // Device parameters are read back to the host once; host ones are used in place.
  std::vector<float> host_copy;
  std::span<const float> host_parameters;
  if (parameters_.space() == backend::MemorySpace::Host) {
    host_parameters = parameters_.host_span();
  } else {
    host_copy.resize(parameters_.size());
    read_parameters(host_copy);
    host_parameters = host_copy;
  }
  std::vector<formats::TensorData> tensors;
  tensors.reserve(table_.views().size());
  for (const ParameterView& view : table_.views())
    tensors.push_back(
        formats::TensorData::from_f32(view.name, view.shape, host_parameters.subspan(view.offset, view.size)));
  formats::write_safetensors(directory + "/model.safetensors", tensors, {{"format", "pt"}});
  const std::string config_path = directory + "/config.json";
  const std::string temporary = config_path + ".tmp";
  {
    std::ofstream out(temporary);
    LLC_CHECK(out.good(), IoError, temporary, "check the path and permissions", "cannot open for writing");
    out << config_.to_json().dump(2) << "\n";
    LLC_CHECK(out.good(), IoError, temporary, "check free disk space", "write failed");
  }
  std::filesystem::rename(temporary, config_path, error);
  LLC_CHECK(!error, IoError, config_path, "check the path and permissions", "cannot rename {}: {}", temporary,
            error.message());
}

double GptNeox::forward(const std::int32_t* tokens, int batch, int seq_len) {
  forward_body(tokens, batch, seq_len);
  const double loss = loss_head(/*with_loss=*/true, nullptr);
  backward_ready_ = true;
  return loss;
}

double GptNeox::forward_backward(const std::int32_t* tokens, int batch, int seq_len, std::span<float> gradient) {
  LLC_CHECK(gradient.size() == parameters_.size(), InputError, "GptNeox::forward_backward",
            "pass a buffer of num_parameters() floats", "gradient has {} floats, the model has {} parameters",
            gradient.size(), parameters_.size());
  forward_body(tokens, batch, seq_len);
  const double loss = loss_head(/*with_loss=*/true, gradient.data());
  body_backward(gradient.data());
  return loss;
}

void GptNeox::forward_body(const std::int32_t* tokens, int batch, int seq_len) {
  LLC_CHECK(batch >= 1 && batch <= max_batch_, InputError, "GptNeox::forward",
            "split the batch or build the model with a larger max_batch",
            "batch {} is outside [1, {}] (the max_batch the model was built for)", batch, max_batch_);
  LLC_CHECK(seq_len >= 1 && seq_len <= max_seq_len_, InputError, "GptNeox::forward",
            "build the model with a larger max_seq_len", "seq_len {} is outside [1, {}]", seq_len, max_seq_len_);
  Activations& a = *activations_;
  const std::int64_t rows = static_cast<std::int64_t>(batch) * seq_len;
  const int hidden = a.hidden, intermediate = a.intermediate, vocab = a.vocab;
  backward_ready_ = false;
  a.logits_hold_single_chunk = false;
  // Tokens are checked once per batch on the host, before they go to the
  // backend: no op ever reads device memory to validate them.
  for (int sequence = 0; sequence < batch; ++sequence) {
    const std::int32_t* window = tokens + static_cast<std::int64_t>(sequence) * (seq_len + 1);
    for (int t = 0; t <= seq_len; ++t) {
      LLC_CHECK(window[t] >= 0 && window[t] < vocab, InputError, fmt::format("token batch [{}, {}]", sequence, t),
                "the tokens must come from the model's tokenizer (vocab_size in config.json)",
                "token {} is outside the vocabulary [0, {})", window[t], vocab);
    }
    std::copy(window, window + seq_len, a.host_inputs.data() + static_cast<std::int64_t>(sequence) * seq_len);
    std::copy(window + 1, window + seq_len + 1, a.host_targets.data() + static_cast<std::int64_t>(sequence) * seq_len);
  }
  backend::Backend& be = *backend_;
  be.upload(a.inputs.data(), a.host_inputs.data(), static_cast<std::size_t>(rows) * sizeof(std::int32_t));
  be.upload(a.targets.data(), a.host_targets.data(), static_cast<std::size_t>(rows) * sizeof(std::int32_t));

  const float* params = parameters_.data();
  const float eps = static_cast<float>(config_.layer_norm_eps);
  be.embedding_forward(a.at(a.residual, 0, hidden), a.inputs.data(), params + a.embed_in, rows, hidden);
  for (int layer = 0; layer < a.layers; ++layer) {
    const Activations::LayerOffsets& w = a.layer_offsets[static_cast<std::size_t>(layer)];
    const float* x = a.at(a.residual, layer, hidden);   // (rows, H)
    float* next = a.at(a.residual, layer + 1, hidden);  // (rows, H)
    float* input_norm = a.at(a.input_norm_out, layer, hidden);
    float* qkv = a.at(a.qkv, layer, 3 * hidden);
    float* attention_out = a.at(a.attention_out, layer, hidden);
    float* post_norm = a.at(a.post_norm_out, layer, hidden);
    float* mlp_pre = a.at(a.mlp_pre, layer, intermediate);
    float* mlp_act = a.at(a.mlp_act, layer, intermediate);

    be.layernorm_forward(input_norm, a.at(a.input_norm_mean, layer, 1), a.at(a.input_norm_rstd, layer, 1), x,
                         params + w.input_norm_weight, params + w.input_norm_bias, rows, hidden, eps);
    be.linear_forward(qkv, input_norm, params + w.qkv_weight, params + w.qkv_bias, rows, hidden, 3 * hidden,
                      /*accumulate=*/false);
    if (a.rotary_dims > 0)
      be.rotary_forward(qkv, a.rotary_cos.data(), a.rotary_sin.data(), batch, seq_len, a.heads, a.head_dim,
                        a.rotary_dims);
    be.attention_forward(attention_out, a.at(a.attention_lse, layer, a.heads), qkv, batch, seq_len, a.heads,
                         a.head_dim);
    // The MLP reads x (parallel residual) or x + attention (sequential).
    const float* mlp_input = x;
    if (config_.use_parallel_residual) {
      be.copy(next, x, rows * hidden);
      be.linear_forward(next, attention_out, params + w.dense_weight, params + w.dense_bias, rows, hidden, hidden,
                        /*accumulate=*/true);
    } else {
      float* mid = a.at(a.residual_mid, layer, hidden);
      be.copy(mid, x, rows * hidden);
      be.linear_forward(mid, attention_out, params + w.dense_weight, params + w.dense_bias, rows, hidden, hidden,
                        /*accumulate=*/true);
      be.copy(next, mid, rows * hidden);
      mlp_input = mid;
    }
    be.layernorm_forward(post_norm, a.at(a.post_norm_mean, layer, 1), a.at(a.post_norm_rstd, layer, 1), mlp_input,
                         params + w.post_norm_weight, params + w.post_norm_bias, rows, hidden, eps);
    be.linear_forward(mlp_pre, post_norm, params + w.up_weight, params + w.up_bias, rows, hidden, intermediate,
                      /*accumulate=*/false);
    be.gelu_forward(mlp_act, mlp_pre, rows * intermediate, a.gelu);
    be.linear_forward(next, mlp_act, params + w.down_weight, params + w.down_bias, rows, intermediate, hidden,
                      /*accumulate=*/true);
  }
  be.layernorm_forward(a.final_out.data(), a.final_mean.data(), a.final_rstd.data(), a.at(a.residual, a.layers, hidden),
                       params + a.final_weight, params + a.final_bias, rows, hidden, eps);
  batch_ = batch;
  seq_len_ = seq_len;
}

double GptNeox::loss_head(bool with_loss, float* gradient) {
  Activations& a = *activations_;
  backend::Backend& be = *backend_;
  const std::int64_t rows = static_cast<std::int64_t>(batch_) * seq_len_;
  const int hidden = a.hidden, vocab = a.vocab;
  const float* params = parameters_.data();
  const std::int64_t chunk_rows = a.chunk_rows;
  const bool single_chunk = rows <= chunk_rows;
  const float d_loss = 1.0f / static_cast<float>(rows);  // the loss is a mean over rows
  double loss = 0;
  for (std::int64_t first = 0; first < rows; first += chunk_rows) {
    const std::int64_t count = std::min(chunk_rows, rows - first);
    const float* final_out = a.final_out.data() + first * hidden;  // (count, H)
    float* logits = a.logits.data();                               // (count, V)
    if (!(single_chunk && a.logits_hold_single_chunk))
      be.linear_forward(logits, final_out, params + a.embed_out, nullptr, count, hidden, vocab, /*accumulate=*/false);
    if (with_loss) {
      const double chunk_loss = be.cross_entropy_forward(a.token_losses.data() + first, a.logits_lse.data() + first,
                                                         logits, a.targets.data() + first, count, vocab);
      if (single_chunk) loss = chunk_loss;
    }
    a.logits_hold_single_chunk = single_chunk && gradient == nullptr;
    if (gradient == nullptr) continue;
    // d_logits overwrite the logits in place.
    be.cross_entropy_backward(logits, logits, a.logits_lse.data() + first, a.targets.data() + first, d_loss, count,
                              vocab);
    float* d_final_out = a.d_normalized.data() + first * hidden;  // (count, H)
    if (single_chunk) {
      // One chunk: the unchunked head's ops, bit for bit.
      be.linear_backward(d_final_out, gradient + a.embed_out, nullptr, logits, final_out, params + a.embed_out, count,
                         hidden, vocab);
    } else {
      // d_final_out (count, H) = d_logits (count, V) · W (V, H);
      // d_W (V, H) (+)= d_logitsᵀ · final_out (count, H), WRITTEN by the first chunk.
      be.gemm(d_final_out, logits, params + a.embed_out, count, hidden, vocab, backend::Transpose::No,
              backend::Transpose::No, 1.0f, 0.0f, vocab, hidden, hidden);
      be.gemm(gradient + a.embed_out, logits, final_out, vocab, hidden, count, backend::Transpose::Yes,
              backend::Transpose::No, 1.0f, first == 0 ? 0.0f : 1.0f, vocab, hidden, hidden);
    }
  }
  if (with_loss && !single_chunk) {
    // The mean of the per-row losses, summed in double in row order: what
    // cross_entropy_forward returns for one call over all rows.
    std::vector<float> losses(static_cast<std::size_t>(rows));
    be.download(losses.data(), a.token_losses.data(), losses.size() * sizeof(float));
    double total = 0.0;
    for (float value : losses) total += value;
    loss = total / static_cast<double>(rows);
  }
  return loss;
}

void GptNeox::backward(std::span<float> gradient) {
  LLC_CHECK(backward_ready_, InputError, "GptNeox::backward", "call forward() on the batch first",
            "backward() needs a forward() since the last backward() or load()");
  LLC_CHECK(gradient.size() == parameters_.size(), InputError, "GptNeox::backward",
            "pass a buffer of num_parameters() floats", "gradient has {} floats, the model has {} parameters",
            gradient.size(), parameters_.size());
  backward_ready_ = false;
  loss_head(/*with_loss=*/false, gradient.data());
  body_backward(gradient.data());
}

void GptNeox::body_backward(float* gradient) {
  Activations& a = *activations_;
  const std::int64_t rows = static_cast<std::int64_t>(batch_) * seq_len_;
  const int hidden = a.hidden, intermediate = a.intermediate, vocab = a.vocab;
  const float* params = parameters_.data();
  float* grads = gradient;
  backend::Backend& be = *backend_;
  float* d_residual = a.d_residual.data();      // (rows, H)  d(loss)/d(residual stream)
  float* d_normalized = a.d_normalized.data();  // (rows, H)
  float* d_attention_out = a.d_attention_out.data();
  float* d_qkv = a.d_qkv.data();
  float* d_mlp = a.d_mlp.data();
  backward_ready_ = false;

  // d_normalized holds d(final layer norm output) from loss_head.
  be.zero(d_residual, rows * hidden);
  be.layernorm_backward(d_residual, grads + a.final_weight, grads + a.final_bias, d_normalized,
                        a.at(a.residual, a.layers, hidden), a.final_mean.data(), a.final_rstd.data(),
                        params + a.final_weight, rows, hidden);

  for (int layer = a.layers - 1; layer >= 0; --layer) {
    const Activations::LayerOffsets& w = a.layer_offsets[static_cast<std::size_t>(layer)];
    const float* x = a.at(a.residual, layer, hidden);
    const float* input_norm = a.at(a.input_norm_out, layer, hidden);
    const float* qkv = a.at(a.qkv, layer, 3 * hidden);
    const float* attention_out = a.at(a.attention_out, layer, hidden);
    const float* post_norm = a.at(a.post_norm_out, layer, hidden);
    const float* mlp_pre = a.at(a.mlp_pre, layer, intermediate);
    const float* mlp_act = a.at(a.mlp_act, layer, intermediate);
    const float* mlp_input = config_.use_parallel_residual ? x : a.at(a.residual_mid, layer, hidden);

    // Parallel residual: y = x + A(LN₁x) + M(LN₂x), so both branches read
    // dy and the layer norms add their input gradients onto dy (= dx).
    // Sequential: y = m + M(LN₂m), m = x + A(LN₁x): the MLP branch first turns
    // dy into dm in place, then the attention branch reads dm.
    if (config_.use_parallel_residual)
      be.linear_backward(d_attention_out, grads + w.dense_weight, grads + w.dense_bias, d_residual, attention_out,
                         params + w.dense_weight, rows, hidden, hidden);
    be.linear_backward(d_mlp, grads + w.down_weight, grads + w.down_bias, d_residual, mlp_act, params + w.down_weight,
                       rows, intermediate, hidden);
    be.gelu_backward(d_mlp, d_mlp, mlp_pre, rows * intermediate, a.gelu);
    be.linear_backward(d_normalized, grads + w.up_weight, grads + w.up_bias, d_mlp, post_norm, params + w.up_weight,
                       rows, hidden, intermediate);
    be.layernorm_backward(d_residual, grads + w.post_norm_weight, grads + w.post_norm_bias, d_normalized, mlp_input,
                          a.at(a.post_norm_mean, layer, 1), a.at(a.post_norm_rstd, layer, 1),
                          params + w.post_norm_weight, rows, hidden);
    if (!config_.use_parallel_residual)
      be.linear_backward(d_attention_out, grads + w.dense_weight, grads + w.dense_bias, d_residual, attention_out,
                         params + w.dense_weight, rows, hidden, hidden);
    be.attention_backward(d_qkv, d_attention_out, attention_out, a.at(a.attention_lse, layer, a.heads), qkv, batch_,
                          seq_len_, a.heads, a.head_dim);
    if (a.rotary_dims > 0)
      be.rotary_backward(d_qkv, a.rotary_cos.data(), a.rotary_sin.data(), batch_, seq_len_, a.heads, a.head_dim,
                         a.rotary_dims);
    be.linear_backward(d_normalized, grads + w.qkv_weight, grads + w.qkv_bias, d_qkv, input_norm, params + w.qkv_weight,
                       rows, hidden, 3 * hidden);
    be.layernorm_backward(d_residual, grads + w.input_norm_weight, grads + w.input_norm_bias, d_normalized, x,
                          a.at(a.input_norm_mean, layer, 1), a.at(a.input_norm_rstd, layer, 1),
                          params + w.input_norm_weight, rows, hidden);
  }
  be.zero(grads + a.embed_in, static_cast<std::int64_t>(vocab) * hidden);
  be.embedding_backward(grads + a.embed_in, d_residual, a.inputs.data(), rows, hidden);
}

void GptNeox::read_logits(std::span<float> host) {
  Activations& a = *activations_;
  const std::int64_t rows = static_cast<std::int64_t>(batch_) * seq_len_;
  const std::size_t vocab = static_cast<std::size_t>(a.vocab);
  LLC_REQUIRE(host.size() == static_cast<std::size_t>(rows) * vocab, "read_logits: {} floats for {} logits",
              host.size(), static_cast<std::size_t>(rows) * vocab);
  LLC_CHECK(backward_ready_, InputError, "GptNeox::read_logits", "call forward() on the batch first",
            "the logits are recomputed from the last forward(), and backward() has consumed it");
  // The head's GEMM again, chunk by chunk (the same op and rows as the forward: the same logits).
  for (std::int64_t first = 0; first < rows; first += a.chunk_rows) {
    const std::int64_t count = std::min(a.chunk_rows, rows - first);
    backend_->linear_forward(a.logits.data(), a.final_out.data() + first * a.hidden, parameters_.data() + a.embed_out,
                             nullptr, count, a.hidden, a.vocab, /*accumulate=*/false);
    backend_->download(host.data() + static_cast<std::size_t>(first) * vocab, a.logits.data(),
                       static_cast<std::size_t>(count) * vocab * sizeof(float));
  }
  a.logits_hold_single_chunk = rows <= a.chunk_rows;
}

std::span<const float> GptNeox::token_losses() const {
  return activations_->token_losses.host_span().first(static_cast<std::size_t>(batch_) * seq_len_);
}

std::size_t GptNeox::activation_bytes() const { return activations_->bytes(); }

}  // namespace llcpress
