#include <gtest/gtest.h>

#include "core/error.h"
#include "slt/parameter_mask.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {

// A two-layer GPT-NeoX-shaped table with tiny tensors.
ParameterTable neox_like_table() {
  ParameterTable t;
  t.add("gpt_neox.embed_in.weight", {10, 4}, TensorRole::Embedding);
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "gpt_neox.layers." + std::to_string(layer) + ".";
    t.add(p + "input_layernorm.weight", {4}, TensorRole::Norm, layer);
    t.add(p + "attention.query_key_value.weight", {12, 4}, TensorRole::Linear, layer);
    t.add(p + "attention.query_key_value.bias", {12}, TensorRole::Bias, layer);
    t.add(p + "mlp.dense_h_to_4h.weight", {16, 4}, TensorRole::Linear, layer);
    t.add(p + "mlp.dense_4h_to_h.weight", {4, 16}, TensorRole::Linear, layer);
  }
  t.add("gpt_neox.final_layer_norm.weight", {4}, TensorRole::Norm);
  t.add("embed_out.weight", {10, 4}, TensorRole::Unembedding);
  return t;
}

std::vector<std::string> names(const ParameterTable& t, std::vector<std::string> selectors) {
  return selected_tensor_names(t, split_mask_selectors(selectors));
}

}  // namespace

TEST(ParameterMask, GlobMatching) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*c", "abbbc"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("*.weight", "x.y.weight"));
  EXPECT_FALSE(glob_match("*.weight", "x.y.bias"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
}

TEST(ParameterMask, SelectorsPickTheRightTensors) {
  const ParameterTable t = neox_like_table();
  EXPECT_EQ(names(t, {"layer:1:attention"}),
            (std::vector<std::string>{"gpt_neox.layers.1.attention.query_key_value.weight",
                                      "gpt_neox.layers.1.attention.query_key_value.bias"}));
  EXPECT_EQ(names(t, {"layer:0"}).size(), 5u);
  EXPECT_EQ(names(t, {"mlp"}).size(), 4u);
  EXPECT_EQ(names(t, {"role:embedding,role:unembedding"}),
            (std::vector<std::string>{"gpt_neox.embed_in.weight", "embed_out.weight"}));
  EXPECT_EQ(names(t, {"*.dense_4h_to_h.weight"}).size(), 2u);
  // Only negative selectors: everything except them.
  EXPECT_EQ(names(t, {"!role:embedding", "!role:unembedding"}).size(), t.views().size() - 2);
  // Positive and negative: layer 0 without its norm.
  EXPECT_EQ(names(t, {"layer:0", "!role:norm"}).size(), 4u);
}

TEST(ParameterMask, RangesFollowTheTable) {
  const ParameterTable t = neox_like_table();
  const SampledRanges r = select_parameters(t, {"layer:1:mlp"});
  const auto& up = t.at("gpt_neox.layers.1.mlp.dense_h_to_4h.weight");
  const auto& down = t.at("gpt_neox.layers.1.mlp.dense_4h_to_h.weight");
  ASSERT_EQ(r.ranges().size(), 1u);  // adjacent tensors merge
  EXPECT_EQ(r.ranges()[0].begin, up.offset);
  EXPECT_EQ(r.ranges()[0].end, down.offset + down.size);
  EXPECT_EQ(r.count(), up.size + down.size);
  EXPECT_TRUE(r.contains(up.offset));
  EXPECT_FALSE(r.contains(up.offset - 1));
}

TEST(ParameterMask, SelectorsMatchingNothingAreErrors) {
  const ParameterTable t = neox_like_table();
  EXPECT_THROW(select_parameters(t, {"layer:7"}), ConfigError);
  EXPECT_THROW(select_parameters(t, {"*attn*"}), ConfigError);
  EXPECT_THROW(select_parameters(t, {"role:conv"}), ConfigError);
  EXPECT_THROW(select_parameters(t, {"layer:x"}), ConfigError);
  EXPECT_THROW(select_parameters(t, {"layer:1:ffn"}), ConfigError);
  EXPECT_THROW(select_parameters(t, {"all", "!all"}), ConfigError);  // empty selection
}
