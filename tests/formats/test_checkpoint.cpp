// Hugging Face checkpoint directories: a tiny GPT-NeoX saved by transformers
// save_pretrained (single file and sharded) read with exactly the tensors,
// shapes and values the reference library wrote; config.json in all its
// spellings; content hashes; and broken directories refused clearly.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>

#include "formats/checkpoint.h"
#include "formats/safetensors.h"
#include "formats_test_util.h"

namespace llcpress::formats {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::fixture;
using testing::ScratchDir;

std::string sha256_hex(const void* data, std::size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

const nlohmann::json& expected_neox() {
  static const nlohmann::json expected = testing::load_json(fixture("neox_tiny_expected.json"));
  return expected;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The checkpoint holds exactly the tensors make_fixtures.py read back with the reference library.
void expect_matches_reference(const Checkpoint& checkpoint) {
  const auto& expected = expected_neox();
  ASSERT_EQ(checkpoint.tensors().size(), expected["tensors"].size());
  std::size_t i = 0;
  for (const auto& [name, want] : expected["tensors"].items()) {  // JSON objects iterate in sorted order
    SCOPED_TRACE(name);
    EXPECT_EQ(checkpoint.tensors()[i++].name, name);  // tensors() is sorted by name
    const TensorView view = checkpoint.tensor(name);
    EXPECT_EQ(dtype_name(view.info.dtype), want["dtype"].get<std::string>());
    EXPECT_EQ(view.info.shape, want["shape"].get<std::vector<std::int64_t>>());
    const std::vector<float> values = view.to_f32();
    EXPECT_EQ(sha256_hex(values.data(), values.size() * sizeof(float)), want["f32_sha256"].get<std::string>());
    for (std::size_t k = 0; k < want["first_values"].size(); ++k)
      EXPECT_EQ(static_cast<double>(values[k]), want["first_values"][k].get<double>());
  }
  EXPECT_EQ(checkpoint.total_parameters(), expected["total_parameters"].get<std::int64_t>());
  EXPECT_EQ(checkpoint.content_hash(), expected["content_hash"].get<std::string>());
}

void expect_config(const NeoxConfig& config) {
  const auto& want = expected_neox()["config"];
  EXPECT_EQ(config.hidden_size, want["hidden_size"].get<int>());
  EXPECT_EQ(config.num_hidden_layers, want["num_hidden_layers"].get<int>());
  EXPECT_EQ(config.num_attention_heads, want["num_attention_heads"].get<int>());
  EXPECT_EQ(config.intermediate_size, want["intermediate_size"].get<int>());
  EXPECT_EQ(config.vocab_size, want["vocab_size"].get<int>());
  EXPECT_EQ(config.max_position_embeddings, want["max_position_embeddings"].get<int>());
  EXPECT_EQ(config.rotary_pct, want["rotary_pct"].get<double>());
  EXPECT_EQ(config.rotary_emb_base, want["rotary_emb_base"].get<double>());
  EXPECT_EQ(config.rotary_dims(), 4);  // head size 8, rotary_pct 0.5
  EXPECT_TRUE(config.use_parallel_residual);
  EXPECT_FALSE(config.tie_word_embeddings);
}

// Copies every tensor of `checkpoint` (in the given order, optionally upcast to
// fp32) into a new single-file checkpoint directory.
void copy_checkpoint(const Checkpoint& checkpoint, const std::string& directory, bool to_f32, bool reverse) {
  fs::create_directories(directory);
  std::vector<TensorData> tensors;
  for (const auto& info : checkpoint.tensors()) {
    const TensorView view = checkpoint.tensor(info.name);
    if (to_f32) {
      const auto values = view.to_f32();
      tensors.push_back(TensorData::from_f32(info.name, info.shape, values, DType::F32));
    } else {
      tensors.push_back({info, {view.bytes.begin(), view.bytes.end()}});
    }
  }
  if (reverse) std::reverse(tensors.begin(), tensors.end());
  write_safetensors(directory + "/model.safetensors", tensors, {{"format", "pt"}});
}

// ----------------------------------------------------------------- the transformers fixtures

TEST(Checkpoint, SingleSafetensorsFromSavePretrained) {
  const auto checkpoint = Checkpoint::open(fixture("neox_tiny"));
  EXPECT_EQ(checkpoint.weights_format(), "safetensors");
  ASSERT_EQ(checkpoint.weight_files().size(), 1u);
  EXPECT_EQ(fs::path(checkpoint.weight_files()[0]).filename(), "model.safetensors");
  ASSERT_TRUE(checkpoint.has_config());
  expect_config(checkpoint.config());  // transformers 5 writes the rope_parameters spelling
  expect_matches_reference(checkpoint);
}

TEST(Checkpoint, ShardedSafetensorsFromSavePretrained) {
  const auto checkpoint = Checkpoint::open(fixture("neox_tiny_sharded"));
  EXPECT_EQ(checkpoint.weights_format(), "safetensors (sharded)");
  EXPECT_EQ(checkpoint.weight_files().size(), 4u);
  expect_config(checkpoint.config());
  expect_matches_reference(checkpoint);
  // Every tensor comes from the shard the index names: its bytes lie inside
  // that shard's file (whose content the shard's own reader confirms).
  for (const auto& [name, file_name] : expected_neox()["weight_map"].items()) {
    const auto shard = SafetensorsFile::open(fixture("neox_tiny_sharded/" + file_name.get<std::string>()));
    ASSERT_TRUE(shard.contains(name));
    const auto ours = checkpoint.tensor(name).bytes, theirs = shard.tensor(name).bytes;
    EXPECT_TRUE(std::equal(ours.begin(), ours.end(), theirs.begin(), theirs.end())) << name;
  }
  // The index file itself is also a valid path.
  const auto via_index = Checkpoint::open(fixture("neox_tiny_sharded/model.safetensors.index.json"));
  EXPECT_EQ(via_index.content_hash(), checkpoint.content_hash());
  EXPECT_FALSE(via_index.has_config());
}

TEST(Checkpoint, SingleWeightsFile) {
  const auto checkpoint = Checkpoint::open(fixture("neox_tiny/model.safetensors"));
  EXPECT_EQ(checkpoint.weights_format(), "safetensors");
  EXPECT_FALSE(checkpoint.has_config());
  expect_error([&] { checkpoint.config(); }, {"no config.json"});
  EXPECT_EQ(checkpoint.content_hash(), expected_neox()["content_hash"].get<std::string>());
  expect_error([&] { checkpoint.tensor("embed_in.weight"); }, {"no tensor named 'embed_in.weight'"});
}

// ----------------------------------------------------------------- content hash

TEST(CheckpointHash, SameWeightsSameHashWhateverTheLayout) {
  const auto original = Checkpoint::open(fixture("neox_tiny"));
  ScratchDir scratch;
  copy_checkpoint(original, scratch.file("reversed"), /*to_f32=*/false, /*reverse=*/true);
  EXPECT_EQ(Checkpoint::open(scratch.file("reversed")).content_hash(), original.content_hash());
  // Upcasting changes the stored bytes and dtype: a different hash, equal to the
  // one Python computes for the fp32 state dict.
  copy_checkpoint(original, scratch.file("fp32"), /*to_f32=*/true, /*reverse=*/false);
  const auto fp32 = Checkpoint::open(scratch.file("fp32"));
  EXPECT_NE(fp32.content_hash(), original.content_hash());
  EXPECT_EQ(fp32.content_hash(), expected_neox()["content_hash_fp32"].get<std::string>());
}

TEST(CheckpointHash, PytorchBinAndSafetensorsCopyHashEqually) {
  // torch.save fixtures (make_torch_fixtures.py): the .bin, its sharded form and
  // a safetensors copy of the same tensors all hash the same.
  const auto single = Checkpoint::open(fixture("torch_neox_single"));
  const auto sharded = Checkpoint::open(fixture("torch_neox_sharded"));
  EXPECT_EQ(single.weights_format(), "pytorch_model.bin");
  EXPECT_EQ(sharded.weights_format(), "pytorch_model.bin (sharded)");
  EXPECT_EQ(single.content_hash(), sharded.content_hash());
  ScratchDir scratch;
  copy_checkpoint(single, scratch.file("copy"), false, false);
  EXPECT_EQ(Checkpoint::open(scratch.file("copy")).content_hash(), single.content_hash());
}

TEST(CheckpointHash, BuffersAreListedButNotCountedOrHashed) {
  EXPECT_TRUE(is_ignored_buffer("gpt_neox.layers.0.attention.bias"));
  EXPECT_TRUE(is_ignored_buffer("gpt_neox.layers.11.attention.masked_bias"));
  EXPECT_TRUE(is_ignored_buffer("gpt_neox.layers.3.attention.rotary_emb.inv_freq"));
  EXPECT_FALSE(is_ignored_buffer("gpt_neox.layers.0.attention.dense.bias"));
  EXPECT_FALSE(is_ignored_buffer("gpt_neox.layers.0.attention.query_key_value.bias"));
  EXPECT_FALSE(is_ignored_buffer("gpt_neox.layers.0.attention.biased"));

  ScratchDir scratch;
  const std::vector<float> w = {1, 2, 3, 4};
  auto weights = TensorData::from_f32("gpt_neox.layers.0.attention.dense.weight", {2, 2}, w, DType::F16);
  fs::create_directories(scratch.file("plain"));
  write_safetensors(scratch.file("plain/model.safetensors"), {weights});
  fs::create_directories(scratch.file("buffers"));
  TensorData mask{{"gpt_neox.layers.0.attention.bias", DType::BOOL, {1, 1, 2, 2}}, std::vector<std::byte>(4)};
  auto masked = TensorData::from_f32("gpt_neox.layers.0.attention.masked_bias", {}, std::vector<float>{-1e9f});
  auto inv_freq = TensorData::from_f32("gpt_neox.layers.0.attention.rotary_emb.inv_freq", {2},
                                       std::vector<float>{1.0f, 0.01f}, DType::F16);
  write_safetensors(scratch.file("buffers/model.safetensors"), {mask, masked, weights, inv_freq});
  const auto plain = Checkpoint::open(scratch.file("plain"));
  const auto with_buffers = Checkpoint::open(scratch.file("buffers"));
  EXPECT_EQ(with_buffers.tensors().size(), 4u);
  EXPECT_TRUE(with_buffers.contains("gpt_neox.layers.0.attention.bias"));
  EXPECT_EQ(with_buffers.total_parameters(), 4);
  EXPECT_EQ(with_buffers.content_hash(), plain.content_hash());
}

// ----------------------------------------------------------------- config.json spellings

// Pythia-70m's config.json as published (the old rotary_pct / rotary_emb_base spelling).
constexpr const char* kPythia70mConfig = R"({
  "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
  "hidden_size": 512, "initializer_range": 0.02, "intermediate_size": 2048, "layer_norm_eps": 1e-05,
  "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 8, "num_hidden_layers": 6,
  "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": false, "torch_dtype": "float16",
  "transformers_version": "4.24.0", "use_cache": true, "use_parallel_residual": true, "vocab_size": 50304})";

TEST(NeoxConfig, PythiaSpelling) {
  const auto config = NeoxConfig::from_json(nlohmann::json::parse(kPythia70mConfig), "config.json");
  EXPECT_EQ(config.hidden_size, 512);
  EXPECT_EQ(config.num_hidden_layers, 6);
  EXPECT_EQ(config.num_attention_heads, 8);
  EXPECT_EQ(config.intermediate_size, 2048);
  EXPECT_EQ(config.vocab_size, 50304);
  EXPECT_EQ(config.rotary_pct, 0.25);
  EXPECT_EQ(config.rotary_emb_base, 10000.0);
  EXPECT_EQ(config.layer_norm_eps, 1e-5);
  EXPECT_EQ(config.rotary_dims(), 16);
  EXPECT_EQ(config.hidden_act, "gelu");
  EXPECT_EQ(config.raw["torch_dtype"], "float16");
}

TEST(NeoxConfig, NewerSpellingsAgree) {
  auto json = nlohmann::json::parse(kPythia70mConfig);
  json.erase("rotary_pct");
  json.erase("rotary_emb_base");
  json["partial_rotary_factor"] = 0.5;
  json["rope_theta"] = 500.0;
  auto config = NeoxConfig::from_json(json, "config.json");
  EXPECT_EQ(config.rotary_pct, 0.5);
  EXPECT_EQ(config.rotary_emb_base, 500.0);
  json.erase("partial_rotary_factor");
  json.erase("rope_theta");
  json["rope_parameters"] = {{"partial_rotary_factor", 0.125}, {"rope_theta", 250}, {"rope_type", "default"}};
  config = NeoxConfig::from_json(json, "config.json");
  EXPECT_EQ(config.rotary_pct, 0.125);
  EXPECT_EQ(config.rotary_emb_base, 250.0);
  // Both spellings present and equal: fine. Different: refused.
  json["rotary_pct"] = 0.125;
  EXPECT_EQ(NeoxConfig::from_json(json, "config.json").rotary_pct, 0.125);
  json["rope_theta"] = 10000;
  expect_error([&] { NeoxConfig::from_json(json, "cfg/config.json"); },
               {"cfg/config.json", "conflicting values", "'rope_theta' = 10000", "'rope_parameters.rope_theta' = 250"});
}

TEST(NeoxConfig, RoundTripThroughToJson) {
  auto config = NeoxConfig::from_json(nlohmann::json::parse(kPythia70mConfig), "config.json");
  config.rotary_pct = 0.5;
  const auto again = NeoxConfig::from_json(config.to_json(), "to_json");
  EXPECT_EQ(again.hidden_size, config.hidden_size);
  EXPECT_EQ(again.intermediate_size, config.intermediate_size);
  EXPECT_EQ(again.rotary_pct, 0.5);
  EXPECT_EQ(again.rotary_emb_base, config.rotary_emb_base);
  EXPECT_EQ(again.vocab_size, config.vocab_size);
  EXPECT_EQ(again.to_json(), config.to_json());
}

TEST(NeoxConfig, Defaults) {
  const auto config = NeoxConfig::from_json(
      {{"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"vocab_size", 100}}, "minimal");
  EXPECT_EQ(config.intermediate_size, 256);  // 4H
  EXPECT_EQ(config.rotary_pct, 0.25);
  EXPECT_EQ(config.rotary_emb_base, 10000.0);
  EXPECT_EQ(config.max_position_embeddings, 2048);
}

TEST(NeoxConfig, ClearErrors) {
  auto base = nlohmann::json::parse(kPythia70mConfig);
  auto without = [&](const char* key) {
    auto json = base;
    json.erase(key);
    return json;
  };
  auto with = [&](const char* key, nlohmann::json value) {
    auto json = base;
    json[key] = value;
    return json;
  };
  const std::string where = "models/x/config.json";
  for (const char* key : {"hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"})
    expect_error([&] { NeoxConfig::from_json(without(key), where); },
                 {where, std::string("missing required key '") + key + "'"});
  expect_error([&] { NeoxConfig::from_json(with("hidden_size", "512"), where); },
               {where, "key 'hidden_size' must be a positive integer, found \"512\""});
  expect_error([&] { NeoxConfig::from_json(with("num_attention_heads", 0), where); },
               {"key 'num_attention_heads' must be a positive integer"});
  expect_error([&] { NeoxConfig::from_json(with("num_attention_heads", 7), where); },
               {"hidden_size 512 is not a multiple of num_attention_heads 7"});
  expect_error([&] { NeoxConfig::from_json(with("model_type", "llama"), where); },
               {"model_type 'llama' is not supported"});
  expect_error([&] { NeoxConfig::from_json(with("rotary_pct", 1.5), where); }, {"rotary_pct 1.5 must lie in (0, 1]"});
  expect_error([&] { NeoxConfig::from_json(with("rotary_pct", -0.25), where); },
               {"key 'rotary_pct' must be a positive number"});
  expect_error([&] { NeoxConfig::from_json(with("rotary_pct", 0.3), where); },
               {"rotary dimensions int(64 * 0.3) = 19 is odd"});
  expect_error(
      [&] {
        NeoxConfig::from_json(with("rope_scaling", {{"rope_type", "linear"}, {"factor", 2}}), where);
      },
      {"rope_scaling", "is not supported"});
  expect_error([&] { NeoxConfig::from_json(with("use_parallel_residual", "yes"), where); },
               {"key 'use_parallel_residual' must be true or false"});
  expect_error([&] { NeoxConfig::from_json(nlohmann::json::array(), where); }, {"config must be a JSON object"});

  ScratchDir scratch;
  write_text(scratch.file("config.json"), "{\"hidden_size\": 512,");
  expect_error([&] { NeoxConfig::load(scratch.file("config.json")); }, {scratch.file("config.json"), "not valid JSON"});
}

// ----------------------------------------------------------------- broken directories

// A sharded checkpoint of two tensors in two shards, with an index to edit.
struct ShardedFixture {
  ScratchDir scratch;
  std::string directory = scratch.file("ckpt");
  nlohmann::json index = {
      {"metadata", {{"total_size", 16}}},
      {"weight_map", {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}}}};
  ShardedFixture() {
    fs::create_directories(directory);
    const std::vector<float> two = {1, 2};
    write_safetensors(directory + "/model-00001-of-00002.safetensors", {TensorData::from_f32("a", {2}, two)});
    write_safetensors(directory + "/model-00002-of-00002.safetensors", {TensorData::from_f32("b", {2}, two)});
  }
  std::string index_path() const { return directory + "/model.safetensors.index.json"; }
  void write_index() const { write_text(index_path(), index.dump()); }
};

TEST(CheckpointMalformed, ValidShardedFixtureOpens) {
  ShardedFixture fixture;
  fixture.write_index();
  const auto checkpoint = Checkpoint::open(fixture.directory);
  EXPECT_EQ(checkpoint.tensors().size(), 2u);
  EXPECT_EQ(checkpoint.total_parameters(), 4);
}

TEST(CheckpointMalformed, MissingShard) {
  ShardedFixture fixture;
  fixture.index["weight_map"]["b"] = "model-00003-of-00003.safetensors";
  fixture.write_index();
  expect_error(
      [&] { Checkpoint::open(fixture.directory); },
      {fixture.index_path(), "weight_map names shard 'model-00003-of-00003.safetensors', which does not exist"});
}

TEST(CheckpointMalformed, TensorNotWhereIndexSays) {
  ShardedFixture fixture;
  fixture.index["weight_map"]["b"] = "model-00001-of-00002.safetensors";
  fixture.index["weight_map"]["a"] = "model-00002-of-00002.safetensors";
  fixture.write_index();
  expect_error([&] { Checkpoint::open(fixture.directory); },
               {fixture.index_path(),
                "weight_map puts tensor 'a' in 'model-00002-of-00002.safetensors', but that file "
                "has no such tensor"});
}

TEST(CheckpointMalformed, ShardHoldsUnlistedTensor) {
  ShardedFixture fixture;
  fixture.index["weight_map"].erase("b");
  fixture.index["weight_map"]["a2"] = "model-00002-of-00002.safetensors";
  fixture.write_index();
  expect_error([&] { Checkpoint::open(fixture.directory); }, {"weight_map puts tensor 'a2'"});
  fixture.index["weight_map"].erase("a2");
  fixture.index["weight_map"]["a"] = "model-00001-of-00002.safetensors";
  fixture.write_index();
  // Only shard 1 is listed, so shard 2 is never opened: not an error (the
  // index decides which files belong to the checkpoint).
  EXPECT_EQ(Checkpoint::open(fixture.directory).tensors().size(), 1u);
  // A tensor present in a listed shard but missing from the index is an error.
  const std::vector<float> one = {1};
  write_safetensors(fixture.directory + "/model-00001-of-00002.safetensors",
                    {TensorData::from_f32("a", {1}, one), TensorData::from_f32("stray", {1}, one)});
  expect_error([&] { Checkpoint::open(fixture.directory); },
               {"model-00001-of-00002.safetensors", "shard holds tensor 'stray'", "does not list"});
}

TEST(CheckpointMalformed, BadIndexFiles) {
  ShardedFixture fixture;
  write_text(fixture.index_path(), "{\"weight_map\": ");
  expect_error([&] { Checkpoint::open(fixture.directory); }, {fixture.index_path(), "not valid JSON"});
  write_text(fixture.index_path(), "{\"metadata\": {}}");
  expect_error([&] { Checkpoint::open(fixture.directory); }, {fixture.index_path(), "no \"weight_map\" object"});
  write_text(fixture.index_path(), R"({"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}})");
  expect_error([&] { Checkpoint::open(fixture.directory); }, {"key 'a' appears twice in one JSON object"});
  write_text(fixture.index_path(), std::string(100000, '[') + std::string(100000, ']'));
  expect_error([&] { Checkpoint::open(fixture.directory); }, {"nests JSON containers deeper than 32 levels"});
  fixture.index["weight_map"]["a"] = 3;
  fixture.write_index();
  expect_error([&] { Checkpoint::open(fixture.directory); }, {"weight_map entry for 'a' is a JSON number"});
  fixture.index["weight_map"]["a"] = "../elsewhere.safetensors";
  fixture.write_index();
  expect_error([&] { Checkpoint::open(fixture.directory); }, {"outside the checkpoint directory"});
  fixture.index["weight_map"] = nlohmann::json::object();
  fixture.write_index();
  expect_error([&] { Checkpoint::open(fixture.directory); }, {"weight_map is empty"});
}

TEST(CheckpointMalformed, CorruptShardNamesTheShard) {
  ShardedFixture fixture;
  fixture.write_index();
  const std::string shard = fixture.directory + "/model-00002-of-00002.safetensors";
  auto bytes = testing::read_bytes(shard);
  bytes.resize(bytes.size() - 1);
  testing::write_bytes(shard, bytes);
  expect_error([&] { Checkpoint::open(fixture.directory); }, {shard, "run past the end of the data buffer"});
}

TEST(CheckpointMalformed, NoWeightsAndMissingPaths) {
  ScratchDir scratch;
  write_text(scratch.file("config.json"), kPythia70mConfig);
  expect_error([&] { Checkpoint::open(scratch.path().string()); }, {scratch.path().string(), "no weights found"});
  expect_error<IoError>([&] { Checkpoint::open(scratch.file("nope")); }, {"nope", "no such file or directory"});
  write_text(scratch.file("config.json"), "[");
  write_text(scratch.file("model.safetensors"), "");
  expect_error([&] { Checkpoint::open(scratch.path().string()); }, {scratch.file("config.json"), "not valid JSON"});
}

TEST(CheckpointMalformed, PrefersSafetensorsOverBin) {
  ScratchDir scratch;
  fs::copy(fixture("neox_tiny"), scratch.path(), fs::copy_options::recursive);
  write_text(scratch.file("pytorch_model.bin"), "not a zip archive");  // never opened
  const auto checkpoint = Checkpoint::open(scratch.path().string());
  EXPECT_EQ(checkpoint.weights_format(), "safetensors");
  EXPECT_EQ(checkpoint.content_hash(), expected_neox()["content_hash"].get<std::string>());
}

}  // namespace
}  // namespace llcpress::formats
