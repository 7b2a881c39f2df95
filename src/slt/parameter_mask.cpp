#include "slt/parameter_mask.h"

#include <charconv>
#include <sstream>

#include "core/check.h"

namespace llcpress::slt {

namespace {

bool has_component(const std::string& name, const std::string& component) {
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    if (name.compare(start, dot - start, component) == 0 && dot - start == component.size()) return true;
    start = dot + 1;
  }
  return false;
}

bool parse_layer(const std::string& text, int& layer) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), layer);
  return error == std::errc() && end == text.data() + text.size() && layer >= 0;
}

bool role_from_name(const std::string& name, TensorRole& role) {
  if (name == "embedding")
    role = TensorRole::Embedding;
  else if (name == "unembedding")
    role = TensorRole::Unembedding;
  else if (name == "linear")
    role = TensorRole::Linear;
  else if (name == "bias")
    role = TensorRole::Bias;
  else if (name == "norm")
    role = TensorRole::Norm;
  else if (name == "other")
    role = TensorRole::Other;
  else
    return false;
  return true;
}

bool is_part(const std::string& text) { return text == "attention" || text == "mlp"; }

}  // namespace

std::vector<std::string> split_mask_selectors(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    std::stringstream stream(value);
    std::string item;
    while (std::getline(stream, item, ',')) {
      const auto first = item.find_first_not_of(" \t");
      const auto last = item.find_last_not_of(" \t");
      if (first == std::string::npos) continue;
      out.push_back(item.substr(first, last - first + 1));
    }
  }
  return out;
}

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative matcher with one backtrack point for the last '*'.
  std::size_t p = 0, n = 0, star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool selector_matches(const std::string& selector, const ParameterView& view) {
  if (selector == "all") return true;
  if (is_part(selector)) return has_component(view.name, selector);
  if (selector.rfind("role:", 0) == 0) {
    TensorRole role;
    LLC_CHECK(role_from_name(selector.substr(5), role), ConfigError, "mask",
              "roles are embedding, unembedding, linear, bias, norm, other", "unknown role in mask selector '{}'",
              selector);
    return view.role == role;
  }
  if (selector.rfind("layer:", 0) == 0) {
    const std::string rest = selector.substr(6);
    const auto colon = rest.find(':');
    int layer = -1;
    LLC_CHECK(parse_layer(rest.substr(0, colon), layer), ConfigError, "mask",
              "write layer:N, layer:N:attention or layer:N:mlp with N ≥ 0", "bad layer selector '{}'", selector);
    if (view.layer != layer) return false;
    if (colon == std::string::npos) return true;
    const std::string part = rest.substr(colon + 1);
    LLC_CHECK(is_part(part), ConfigError, "mask", "write layer:N:attention or layer:N:mlp",
              "unknown part '{}' in mask selector '{}'", part, selector);
    return has_component(view.name, part);
  }
  return glob_match(selector, view.name);
}

namespace {

std::vector<bool> selection(const ParameterTable& table, const std::vector<std::string>& selectors) {
  const auto& views = table.views();
  bool any_positive = false;
  for (const auto& selector : selectors)
    if (selector.empty() || selector[0] != '!') any_positive = true;
  std::vector<bool> chosen(views.size(), !any_positive);
  for (const auto& raw : selectors) {
    const bool negative = !raw.empty() && raw[0] == '!';
    const std::string selector = negative ? raw.substr(1) : raw;
    bool matched = false;
    for (std::size_t i = 0; i < views.size(); ++i) {
      if (!selector_matches(selector, views[i])) continue;
      matched = true;
      chosen[i] = !negative;
    }
    std::string examples;
    for (std::size_t i = 0; i < views.size() && i < 4; ++i) {
      if (i) examples += ", ";
      examples += views[i].name;
    }
    LLC_CHECK(matched, ConfigError, "mask '" + raw + "'",
              "check the spelling; tensor names look like: " + examples + (views.size() > 4 ? ", ..." : ""),
              "the mask selector '{}' matches none of the model's {} tensors", selector, views.size());
  }
  // Negative selectors are applied last so the order on the command line does not matter.
  for (const auto& raw : selectors) {
    if (raw.empty() || raw[0] != '!') continue;
    for (std::size_t i = 0; i < views.size(); ++i)
      if (selector_matches(raw.substr(1), views[i])) chosen[i] = false;
  }
  return chosen;
}

}  // namespace

SampledRanges select_parameters(const ParameterTable& table, const std::vector<std::string>& selectors) {
  const auto chosen = selection(table, selectors);
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (std::size_t i = 0; i < chosen.size(); ++i)
    if (chosen[i]) ranges.emplace_back(table.views()[i].offset, table.views()[i].offset + table.views()[i].size);
  SampledRanges out = SampledRanges::from_ranges(std::move(ranges), table.total_size());
  LLC_CHECK(out.count() > 0, ConfigError, "mask", "drop a '!' selector or add a positive one",
            "the mask selects no parameters");
  return out;
}

std::vector<std::string> selected_tensor_names(const ParameterTable& table, const std::vector<std::string>& selectors) {
  const auto chosen = selection(table, selectors);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < chosen.size(); ++i)
    if (chosen[i]) names.push_back(table.views()[i].name);
  return names;
}

}  // namespace llcpress::slt
