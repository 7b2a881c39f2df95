#include "compress/selection.h"

#include <algorithm>
#include <sstream>

#include "core/check.h"

namespace llcpress::compress {

namespace {
constexpr TensorRole kCanonicalOrder[] = {TensorRole::Linear, TensorRole::Embedding, TensorRole::Unembedding,
                                          TensorRole::Norm, TensorRole::Bias};
}

const char* tensor_role_name(TensorRole role) {
  switch (role) {
    case TensorRole::Embedding:
      return "embedding";
    case TensorRole::Unembedding:
      return "unembedding";
    case TensorRole::Linear:
      return "linear";
    case TensorRole::Bias:
      return "bias";
    case TensorRole::Norm:
      return "norm";
    case TensorRole::Other:
      return "other";
  }
  return "other";
}

TensorSelection::TensorSelection() : roles_{TensorRole::Linear} {}

TensorSelection TensorSelection::parse(const std::string& text, const std::string& key) {
  TensorSelection selection;
  selection.roles_.clear();
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    if (item == "all") {
      for (TensorRole role : kCanonicalOrder) selection.add(role);
      continue;
    }
    bool known = false;
    for (TensorRole role : kCanonicalOrder) {
      if (item == tensor_role_name(role)) {
        selection.add(role);
        known = true;
      }
    }
    LLC_CHECK(known, ConfigError, key, "use a comma-separated list of linear, embedding, unembedding, norm, bias, all",
              "unknown tensor role '{}'", item);
  }
  LLC_CHECK(!selection.roles_.empty(), ConfigError, key, "name at least one role, e.g. --" + key + " linear",
            "the tensor selection '{}' is empty", text);
  return selection;
}

bool TensorSelection::contains(TensorRole role) const {
  return std::find(roles_.begin(), roles_.end(), role) != roles_.end();
}

void TensorSelection::add(TensorRole role) {
  if (!contains(role)) roles_.push_back(role);
}

std::vector<const ParameterView*> TensorSelection::select(const ParameterTable& table) const {
  std::vector<const ParameterView*> selected;
  for (const ParameterView& view : table.views())
    if (contains(view.role) && view.size > 0) selected.push_back(&view);
  return selected;
}

std::size_t TensorSelection::count(const ParameterTable& table) const {
  std::size_t total = 0;
  for (const ParameterView* view : select(table)) total += view->size;
  return total;
}

std::string TensorSelection::to_string() const {
  std::string text;
  for (TensorRole role : kCanonicalOrder) {
    if (!contains(role)) continue;
    if (!text.empty()) text += ",";
    text += tensor_role_name(role);
  }
  return text;
}

}  // namespace llcpress::compress
