// Masks: which tensors SGLD moves (the restricted / per-layer LLC). Every
// other parameter stays exactly at w*.
//
// A mask is a list of selectors; a tensor is sampled when it matches at least
// one positive selector (or when there are none) and no negative one ("!..."):
//
//   all                   every tensor
//   layer:N               every tensor of transformer layer N
//   attention, mlp        every tensor whose name has an "attention" / "mlp" component
//   layer:N:attention     the attention (or mlp) tensors of layer N
//   role:R                R = embedding | unembedding | linear | bias | norm | other
//   GLOB                  anything else: a glob on the tensor name (* any run, ? one character),
//                         e.g. "gpt_neox.layers.3.*" or "*.dense_h_to_4h.weight"
//   !SELECTOR             excludes what SELECTOR matches, e.g. "!role:embedding"
//
// A selector that matches no tensor is a ConfigError (it is almost always a typo).
#pragma once

#include <string>
#include <vector>

#include "model/parameters.h"
#include "slt/sampler.h"

namespace llcpress::slt {

// Splits comma-separated lists and drops empty items: {"a,b", "c"} → {a, b, c}.
std::vector<std::string> split_mask_selectors(const std::vector<std::string>& values);

// True when `name` matches the glob (* and ?; no character classes).
bool glob_match(const std::string& pattern, const std::string& name);

// True when the view matches one (positive, without "!") selector.
bool selector_matches(const std::string& selector, const ParameterView& view);

// The sampled tensors' ranges in the flat buffer. Throws ConfigError when a
// selector matches nothing or when the result is empty.
SampledRanges select_parameters(const ParameterTable& table, const std::vector<std::string>& selectors);

// Names of the tensors a mask selects, in table order (for logs and outputs).
std::vector<std::string> selected_tensor_names(const ParameterTable& table, const std::vector<std::string>& selectors);

}  // namespace llcpress::slt
