#include "model/parameters.h"

#include <numeric>

#include "core/check.h"

namespace llcpress {

const ParameterView& ParameterTable::add(std::string name, std::vector<std::int64_t> shape, TensorRole role,
                                         int layer) {
  LLC_REQUIRE(find(name) == nullptr, "duplicate parameter name '{}'", name);
  std::int64_t numel = 1;
  for (std::int64_t extent : shape) {
    LLC_REQUIRE(extent >= 0, "negative extent in the shape of '{}'", name);
    numel *= extent;
  }
  ParameterView view;
  view.name = std::move(name);
  view.shape = std::move(shape);
  view.offset = total_size_;
  view.size = static_cast<std::size_t>(numel);
  view.role = role;
  view.layer = layer;
  total_size_ += view.size;
  views_.push_back(std::move(view));
  return views_.back();
}

const ParameterView* ParameterTable::find(const std::string& name) const {
  for (const ParameterView& view : views_)
    if (view.name == name) return &view;
  return nullptr;
}

const ParameterView& ParameterTable::at(const std::string& name) const {
  const ParameterView* view = find(name);
  LLC_CHECK(view != nullptr, InputError, name, "list the model's tensors with `llcpress inspect`",
            "no parameter named '{}' in this model ({} tensors)", name, views_.size());
  return *view;
}

}  // namespace llcpress
