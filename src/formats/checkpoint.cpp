#include "formats/checkpoint.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <variant>

#include "core/check.h"
#include "core/log.h"
#include "formats/json_util.h"
#include "formats/mapped_file.h"
#include "formats/safetensors.h"
#include "formats/torch_bin.h"

namespace llcpress::formats {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// config.json and shard indexes are shallow (an index nests 3 levels, a
// config a few more); 32 levels leaves room for any real file.
nlohmann::json parse_json_file(const std::string& path) {
  MappedFile file(path);
  const std::string_view text(reinterpret_cast<const char*>(file.bytes().data()), file.size());
  return parse_untrusted_json(text, path, "file", "fix or re-download the file", /*max_depth=*/32);
}

// ------------------------------------------------------------------ config.json

int positive_int(const nlohmann::json& json, const char* key, const std::string& where, std::optional<int> fallback) {
  auto found = json.find(key);
  if (found == json.end() || found->is_null()) {
    LLC_CHECK(fallback.has_value(), InputError, where, "a GPT-NeoX config.json names it; re-download the file",
              "missing required key '{}'", key);
    return *fallback;
  }
  LLC_CHECK(found->is_number_integer() && found->get<std::int64_t>() > 0 &&
                found->get<std::int64_t>() <= std::numeric_limits<int>::max(),
            InputError, where, "", "key '{}' must be a positive integer, found {}", key, json_brief(*found));
  return found->get<int>();
}

double positive_number(const nlohmann::json& value, const std::string& key, const std::string& where) {
  LLC_CHECK(value.is_number() && value.get<double>() > 0 && std::isfinite(value.get<double>()), InputError, where, "",
            "key '{}' must be a positive number, found {}", key, json_brief(value));
  return value.get<double>();
}

bool boolean(const nlohmann::json& json, const char* key, const std::string& where, bool fallback) {
  auto found = json.find(key);
  if (found == json.end() || found->is_null()) return fallback;
  LLC_CHECK(found->is_boolean(), InputError, where, "", "key '{}' must be true or false, found {}", key,
            json_brief(*found));
  return found->get<bool>();
}

// One rotary setting that may be spelled several ways: every spelling present
// must give the same value.
double agreed_number(const std::vector<std::pair<std::string, const nlohmann::json*>>& spellings,
                     const std::string& where, double fallback) {
  std::optional<double> value;
  std::string first_key;
  for (const auto& [key, json] : spellings) {
    if (json == nullptr || json->is_null()) continue;
    double candidate = positive_number(*json, key, where);
    if (!value) {
      value = candidate;
      first_key = key;
    } else {
      LLC_CHECK(*value == candidate, InputError, where, "keep one spelling, or make them agree",
                "conflicting values: '{}' = {} but '{}' = {}", first_key, *value, key, candidate);
    }
  }
  return value.value_or(fallback);
}

const nlohmann::json* member(const nlohmann::json& json, const char* key) {
  if (!json.is_object()) return nullptr;
  auto found = json.find(key);
  return found == json.end() ? nullptr : &*found;
}

// ------------------------------------------------------------------ weights

using WeightsFile = std::variant<SafetensorsFile, TorchBinFile>;

const std::vector<TensorInfo>& file_tensors(const WeightsFile& file) {
  return std::visit([](const auto& f) -> const std::vector<TensorInfo>& { return f.tensors(); }, file);
}
TensorView file_tensor(const WeightsFile& file, const std::string& name) {
  return std::visit([&](const auto& f) { return f.tensor(name); }, file);
}
WeightsFile open_weights(const std::string& path, bool safetensors) {
  if (safetensors) return SafetensorsFile::open(path);
  return TorchBinFile::open(path);
}

// A weights file of unknown extension: torch.save files are ZIP archives.
bool looks_like_zip(const std::string& path) {
  MappedFile file(path);
  const auto bytes = file.bytes();
  return bytes.size() >= 4 && bytes[0] == std::byte{'P'} && bytes[1] == std::byte{'K'} && bytes[2] == std::byte{3} &&
         bytes[3] == std::byte{4};
}

struct EvpContext {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  ~EvpContext() { EVP_MD_CTX_free(context); }
};

}  // namespace

// ------------------------------------------------------------------ NeoxConfig

int NeoxConfig::rotary_dims() const { return static_cast<int>(head_size() * rotary_pct); }

NeoxConfig NeoxConfig::from_json(const nlohmann::json& json, const std::string& where) {
  LLC_CHECK(json.is_object(), InputError, where, "", "config must be a JSON object, found a JSON {}", json.type_name());
  NeoxConfig config;
  config.raw = json;
  if (auto type = member(json, "model_type"); type != nullptr) {
    LLC_CHECK(type->is_string(), InputError, where, "", "key 'model_type' must be a string");
    config.model_type = type->get<std::string>();
    LLC_CHECK(config.model_type == "gpt_neox", InputError, where, "llcpress reads GPT-NeoX (Pythia) checkpoints",
              "model_type '{}' is not supported", config.model_type);
  }
  config.hidden_size = positive_int(json, "hidden_size", where, std::nullopt);
  config.num_hidden_layers = positive_int(json, "num_hidden_layers", where, std::nullopt);
  config.num_attention_heads = positive_int(json, "num_attention_heads", where, std::nullopt);
  config.vocab_size = positive_int(json, "vocab_size", where, std::nullopt);
  // REFERENCE §1: I = 4H when a file leaves it out (every Pythia config states it).
  config.intermediate_size = positive_int(json, "intermediate_size", where,
                                          config.hidden_size <= std::numeric_limits<int>::max() / 4
                                              ? std::optional<int>(4 * config.hidden_size)
                                              : std::nullopt);
  config.max_position_embeddings = positive_int(json, "max_position_embeddings", where, 2048);
  LLC_CHECK(config.hidden_size % config.num_attention_heads == 0, InputError, where, "",
            "hidden_size {} is not a multiple of num_attention_heads {}", config.hidden_size,
            config.num_attention_heads);

  const nlohmann::json* rope_parameters = member(json, "rope_parameters");
  if (rope_parameters != nullptr && !rope_parameters->is_null()) {
    LLC_CHECK(rope_parameters->is_object(), InputError, where, "", "key 'rope_parameters' must be an object");
    if (auto rope_type = member(*rope_parameters, "rope_type"); rope_type != nullptr) {
      LLC_CHECK(*rope_type == "default", InputError, where, "llcpress implements the plain rotary embedding only",
                "rope_parameters.rope_type {} is not supported", json_brief(*rope_type));
    }
  }
  if (auto scaling = member(json, "rope_scaling"); scaling != nullptr) {
    LLC_CHECK(scaling->is_null() || (scaling->is_object() && member(*scaling, "rope_type") != nullptr &&
                                     *member(*scaling, "rope_type") == "default"),
              InputError, where, "llcpress implements the plain rotary embedding only",
              "rope_scaling {} is not supported", json_brief(*scaling));
  }
  const nlohmann::json* parameters = rope_parameters != nullptr ? rope_parameters : &json;
  config.rotary_pct = agreed_number({{"rotary_pct", member(json, "rotary_pct")},
                                     {"partial_rotary_factor", member(json, "partial_rotary_factor")},
                                     {"rope_parameters.partial_rotary_factor",
                                      rope_parameters ? member(*parameters, "partial_rotary_factor") : nullptr}},
                                    where, 0.25);
  config.rotary_emb_base =
      agreed_number({{"rotary_emb_base", member(json, "rotary_emb_base")},
                     {"rope_theta", member(json, "rope_theta")},
                     {"rope_parameters.rope_theta", rope_parameters ? member(*parameters, "rope_theta") : nullptr}},
                    where, 10000.0);
  LLC_CHECK(config.rotary_pct <= 1.0, InputError, where, "", "rotary_pct {} must lie in (0, 1]", config.rotary_pct);
  LLC_CHECK(config.rotary_dims() % 2 == 0, InputError, where, "rotate-half needs an even number of rotary dimensions",
            "rotary dimensions int({} * {}) = {} is odd", config.head_size(), config.rotary_pct, config.rotary_dims());

  if (auto eps = member(json, "layer_norm_eps"); eps != nullptr && !eps->is_null())
    config.layer_norm_eps = positive_number(*eps, "layer_norm_eps", where);
  config.use_parallel_residual = boolean(json, "use_parallel_residual", where, true);
  config.tie_word_embeddings = boolean(json, "tie_word_embeddings", where, false);
  config.attention_bias = boolean(json, "attention_bias", where, true);
  if (auto act = member(json, "hidden_act"); act != nullptr && !act->is_null()) {
    LLC_CHECK(act->is_string(), InputError, where, "", "key 'hidden_act' must be a string, found {}", json_brief(*act));
    config.hidden_act = act->get<std::string>();
  }
  return config;
}

NeoxConfig NeoxConfig::load(const std::string& path) { return from_json(parse_json_file(path), path); }

nlohmann::json NeoxConfig::to_json() const {
  // Pythia's own spelling of the rotary keys; transformers 4 and 5 both read it.
  return {{"architectures", {"GPTNeoXForCausalLM"}},
          {"model_type", model_type},
          {"hidden_size", hidden_size},
          {"num_hidden_layers", num_hidden_layers},
          {"num_attention_heads", num_attention_heads},
          {"intermediate_size", intermediate_size},
          {"vocab_size", vocab_size},
          {"max_position_embeddings", max_position_embeddings},
          {"rotary_pct", rotary_pct},
          {"rotary_emb_base", rotary_emb_base},
          {"layer_norm_eps", layer_norm_eps},
          {"use_parallel_residual", use_parallel_residual},
          {"tie_word_embeddings", tie_word_embeddings},
          {"attention_bias", attention_bias},
          {"hidden_act", hidden_act}};
}

bool is_ignored_buffer(const std::string& name) {
  for (const char* suffix : {"attention.bias", "attention.masked_bias", "attention.rotary_emb.inv_freq"}) {
    const std::string text = suffix;
    if (name == text || ends_with(name, "." + text)) return true;
  }
  return false;
}

// ------------------------------------------------------------------ Checkpoint

struct Checkpoint::Impl {
  std::string path;
  std::optional<NeoxConfig> config;
  std::string format;
  std::vector<std::string> files;
  std::vector<WeightsFile> weights;            // parallel to files
  std::vector<TensorInfo> tensors;             // sorted by name
  std::map<std::string, std::size_t> file_of;  // tensor name -> index into weights
  mutable std::mutex hash_mutex;               // content_hash() may be called from several threads
  mutable std::optional<std::string> hash;

  void add_file(const std::string& file_path, bool safetensors) {
    files.push_back(file_path);
    weights.push_back(open_weights(file_path, safetensors));
  }
  void index_single_file() {
    for (const auto& info : file_tensors(weights.front())) file_of[info.name] = 0;
  }
  void open_sharded(const std::string& index_path, bool safetensors);
  void finish();
};

void Checkpoint::Impl::open_sharded(const std::string& index_path, bool safetensors) {
  const nlohmann::json index = parse_json_file(index_path);
  LLC_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), InputError,
            index_path, "a shard index is {\"metadata\": {...}, \"weight_map\": {tensor: file}}",
            "no \"weight_map\" object");
  const fs::path directory = fs::path(index_path).parent_path();
  std::map<std::string, std::size_t> shard_of_file;  // file name -> index into files
  std::map<std::string, std::string> listed;         // tensor -> file name
  for (const auto& [tensor_name, file_value] : index["weight_map"].items()) {
    LLC_CHECK(file_value.is_string(), InputError, index_path, "",
              "weight_map entry for '{}' is a JSON {}, not a file name", tensor_name, file_value.type_name());
    const std::string file_name = file_value.get<std::string>();
    const fs::path relative(file_name);
    LLC_CHECK(!file_name.empty() && relative.is_relative() &&
                  std::none_of(relative.begin(), relative.end(), [](const fs::path& part) { return part == ".."; }),
              InputError, index_path, "shards must lie in the checkpoint directory",
              "weight_map entry for '{}' names file '{}' outside the checkpoint directory", tensor_name, file_name);
    listed[tensor_name] = file_name;
    if (!shard_of_file.count(file_name)) shard_of_file[file_name] = 0;  // filled below, in name order
  }
  LLC_CHECK(!listed.empty(), InputError, index_path, "", "weight_map is empty");
  for (auto& [file_name, shard] : shard_of_file) {
    const std::string shard_path = (directory / file_name).string();
    LLC_CHECK(fs::is_regular_file(shard_path), InputError, index_path, "download every shard the index lists",
              "weight_map names shard '{}', which does not exist ({})", file_name, shard_path);
    shard = files.size();
    add_file(shard_path, safetensors);
  }
  for (const auto& listing : listed) {
    // Plain references, not structured bindings: clang 14 cannot capture those in a lambda.
    const std::string& tensor_name = listing.first;
    const std::string& file_name = listing.second;
    const std::size_t shard = shard_of_file[file_name];
    const auto& in_shard = file_tensors(weights[shard]);
    LLC_CHECK(std::any_of(in_shard.begin(), in_shard.end(), [&](const TensorInfo& t) { return t.name == tensor_name; }),
              InputError, index_path, "the index and the shards come from different checkpoints; re-download them",
              "weight_map puts tensor '{}' in '{}', but that file has no such tensor", tensor_name, file_name);
    file_of[tensor_name] = shard;
  }
  for (std::size_t shard = 0; shard < weights.size(); ++shard) {
    for (const auto& info : file_tensors(weights[shard])) {
      auto found = listed.find(info.name);
      LLC_CHECK(found != listed.end(), InputError, files[shard],
                "the index and the shards come from different checkpoints; re-download them",
                "shard holds tensor '{}', which {} does not list", info.name, index_path);
      LLC_CHECK(file_of[info.name] == shard, InputError, files[shard],
                "the index and the shards come from different checkpoints; re-download them",
                "shard holds tensor '{}', which the index places in '{}'", info.name, found->second);
    }
  }
  // metadata.total_size is advisory (writers disagree on what it counts), so a mismatch is only reported.
  if (auto metadata = member(index, "metadata"); metadata != nullptr) {
    if (auto total = member(*metadata, "total_size"); total != nullptr && total->is_number_unsigned()) {
      std::uint64_t bytes = 0;
      for (const auto& weights_file : weights)
        for (const auto& info : file_tensors(weights_file)) bytes += info.nbytes();
      if (bytes != total->get<std::uint64_t>())
        spdlog::warn("{}: metadata.total_size is {} but the shards hold {} bytes of tensors", index_path,
                     total->get<std::uint64_t>(), bytes);
    }
  }
}

void Checkpoint::Impl::finish() {
  for (const auto& [name, shard] : file_of) {
    for (const auto& info : file_tensors(weights[shard])) {
      if (info.name == name) {
        tensors.push_back(info);
        break;
      }
    }
  }
}

Checkpoint::Checkpoint() : impl_(std::make_unique<Impl>()) {}
Checkpoint::~Checkpoint() = default;
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;

Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint checkpoint;
  Impl& impl = *checkpoint.impl_;
  impl.path = path;
  LLC_CHECK(fs::exists(path), IoError, path, "check the path", "no such file or directory");
  if (fs::is_directory(path)) {
    const fs::path directory(path);
    if (fs::exists(directory / "config.json")) impl.config = NeoxConfig::load((directory / "config.json").string());
    auto has = [&](const char* name) { return fs::is_regular_file(directory / name); };
    if (has("model.safetensors")) {
      impl.format = "safetensors";
      impl.add_file((directory / "model.safetensors").string(), true);
      impl.index_single_file();
    } else if (has("model.safetensors.index.json")) {
      impl.format = "safetensors (sharded)";
      impl.open_sharded((directory / "model.safetensors.index.json").string(), true);
    } else if (has("pytorch_model.bin")) {
      impl.format = "pytorch_model.bin";
      impl.add_file((directory / "pytorch_model.bin").string(), false);
      impl.index_single_file();
    } else if (has("pytorch_model.bin.index.json")) {
      impl.format = "pytorch_model.bin (sharded)";
      impl.open_sharded((directory / "pytorch_model.bin.index.json").string(), false);
    } else {
      LLC_THROW(InputError, path, "download the weights next to config.json",
                "no weights found: expected model.safetensors, model.safetensors.index.json, pytorch_model.bin or "
                "pytorch_model.bin.index.json");
    }
  } else if (ends_with(path, ".index.json")) {
    const bool safetensors = fs::path(path).filename().string().find("safetensors") != std::string::npos;
    impl.format = safetensors ? "safetensors (sharded)" : "pytorch_model.bin (sharded)";
    impl.open_sharded(path, safetensors);
  } else {
    const bool safetensors = ends_with(path, ".safetensors") || (!ends_with(path, ".bin") && !looks_like_zip(path));
    impl.format = safetensors ? "safetensors" : "pytorch_model.bin";
    impl.add_file(path, safetensors);
    impl.index_single_file();
  }
  impl.finish();
  return checkpoint;
}

const std::string& Checkpoint::path() const { return impl_->path; }
bool Checkpoint::has_config() const { return impl_->config.has_value(); }
const NeoxConfig& Checkpoint::config() const {
  LLC_CHECK(impl_->config.has_value(), InputError, impl_->path, "put the model's config.json beside the weights",
            "no config.json");
  return *impl_->config;
}
std::string Checkpoint::weights_format() const { return impl_->format; }
const std::vector<std::string>& Checkpoint::weight_files() const { return impl_->files; }
const std::vector<TensorInfo>& Checkpoint::tensors() const { return impl_->tensors; }
bool Checkpoint::contains(const std::string& name) const { return impl_->file_of.count(name) != 0; }

TensorView Checkpoint::tensor(const std::string& name) const {
  auto found = impl_->file_of.find(name);
  LLC_CHECK(found != impl_->file_of.end(), InputError, impl_->path,
            "run `llcpress inspect` on the checkpoint to list its tensors", "no tensor named '{}'", name);
  return file_tensor(impl_->weights[found->second], name);
}

std::int64_t Checkpoint::total_parameters() const {
  std::int64_t total = 0;
  for (const auto& info : impl_->tensors)
    if (!is_ignored_buffer(info.name)) total += info.numel();
  return total;
}

std::string Checkpoint::content_hash() const {
  std::lock_guard lock(impl_->hash_mutex);
  if (impl_->hash) return *impl_->hash;
  EvpContext evp;
  LLC_CHECK(evp.context != nullptr && EVP_DigestInit_ex(evp.context, EVP_sha256(), nullptr) == 1, BackendError,
            impl_->path, "", "OpenSSL could not start a SHA-256 digest");
  auto update = [&](const void* data, std::size_t size) {
    LLC_CHECK(EVP_DigestUpdate(evp.context, data, size) == 1, BackendError, impl_->path, "",
              "OpenSSL SHA-256 update failed");
  };
  // Every variable-length field is preceded by its length (u64, little-endian),
  // so no two different tensor lists produce the same byte stream.
  auto update_u64 = [&](std::uint64_t value) { update(&value, sizeof(value)); };
  auto update_string = [&](std::string_view text) {
    update_u64(text.size());
    update(text.data(), text.size());
  };
  update_string("llcpress content hash v1");
  for (const auto& info : impl_->tensors) {
    if (is_ignored_buffer(info.name)) continue;
    const TensorView view = tensor(info.name);
    update_string(info.name);
    update_string(dtype_name(info.dtype));
    update_u64(info.shape.size());
    for (std::int64_t extent : info.shape) update_u64(static_cast<std::uint64_t>(extent));
    update_u64(view.bytes.size());
    update(view.bytes.data(), view.bytes.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  LLC_CHECK(EVP_DigestFinal_ex(evp.context, digest, &digest_length) == 1, BackendError, impl_->path, "",
            "OpenSSL SHA-256 final failed");
  std::string hex;
  for (unsigned int i = 0; i < digest_length; ++i) hex += fmt::format("{:02x}", digest[i]);
  impl_->hash = hex;
  return hex;
}

}  // namespace llcpress::formats
