#include "compress/prune.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/check.h"

namespace llcpress::compress {

std::vector<std::uint32_t> magnitude_order(std::span<const float> values) {
  LLC_CHECK(values.size() < (std::size_t{1} << 32), InputError, "prune", "use the per-tensor scope",
            "a tensor of {} entries is too large to order with 32-bit indices", values.size());
  std::vector<std::uint32_t> order(values.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return std::fabs(values[a]) < std::fabs(values[b]); });
  return order;
}

void prune_smallest(std::span<float> out, std::span<const std::uint32_t> order, std::size_t count) {
  LLC_REQUIRE(count <= order.size() && order.size() == out.size(), "count {} order {} out {}", count, order.size(),
              out.size());
  for (std::size_t i = 0; i < count; ++i) out[order[i]] = 0.0f;
}

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Per layer, the view whose name ends with `suffix` (layers without it are skipped).
std::map<int, const ParameterView*> views_by_layer(const ParameterTable& table, const std::string& suffix) {
  std::map<int, const ParameterView*> found;
  for (const ParameterView& view : table.views())
    if (view.layer >= 0 && ends_with(view.name, suffix)) found[view.layer] = &view;
  return found;
}

std::int64_t columns_of(const ParameterView& view) { return view.shape.size() >= 2 ? view.cols() : 1; }

double block_squared_norm(std::span<const float> parameters, const RowBlock& block, bool as_columns) {
  const ParameterView& view = *block.view;
  const std::int64_t cols = columns_of(view);
  const float* base = parameters.data() + view.offset;
  double total = 0;
  if (!as_columns) {
    for (std::int64_t i = block.first * cols; i < (block.first + block.count) * cols; ++i)
      total += double(base[i]) * base[i];
  } else {
    for (std::int64_t r = 0; r < view.rows(); ++r)
      for (std::int64_t c = block.first; c < block.first + block.count; ++c)
        total += double(base[r * cols + c]) * base[r * cols + c];
  }
  return total;
}

}  // namespace

std::vector<StructuredUnit> attention_heads(const ParameterTable& table, std::span<const float> parameters,
                                            int num_heads) {
  LLC_CHECK(num_heads >= 1, ConfigError, "num-heads", "pass the model's num_attention_heads (config.json)",
            "pruning attention heads needs the number of heads, got {}", num_heads);
  auto qkv_weights = views_by_layer(table, "attention.query_key_value.weight");
  auto qkv_biases = views_by_layer(table, "attention.query_key_value.bias");
  auto dense_weights = views_by_layer(table, "attention.dense.weight");
  LLC_CHECK(!qkv_weights.empty(), InputError, "attention.query_key_value.weight",
            "prune-heads works on GPT-NeoX models (tensor names as in the checkpoint)",
            "the model has no attention layers to prune");
  std::vector<StructuredUnit> units;
  for (const auto& [layer, qkv] : qkv_weights) {
    const std::int64_t hidden = qkv->cols();
    LLC_CHECK(qkv->shape.size() == 2 && qkv->rows() == 3 * hidden && hidden % num_heads == 0, InputError, qkv->name,
              "check num_attention_heads against the checkpoint's config.json",
              "expected [3H, H] with H divisible by {} heads, got [{}, {}]", num_heads, qkv->rows(), qkv->cols());
    auto dense = dense_weights.find(layer);
    LLC_CHECK(dense != dense_weights.end() && dense->second->shape.size() == 2 && dense->second->rows() == hidden &&
                  dense->second->cols() == hidden,
              InputError, qkv->name, "the checkpoint is incomplete",
              "layer {} has no attention.dense.weight of shape [{}, {}]", layer, hidden, hidden);
    auto bias = qkv_biases.find(layer);
    const ParameterView* bias_view = bias == qkv_biases.end() ? nullptr : bias->second;
    LLC_CHECK(!bias_view || static_cast<std::int64_t>(bias_view->size) == 3 * hidden, InputError,
              bias_view ? bias_view->name : qkv->name, "the checkpoint is inconsistent",
              "query_key_value.bias has {} entries, expected {}", bias_view ? bias_view->size : 0, 3 * hidden);
    const std::int64_t head_dim = hidden / num_heads;
    for (int h = 0; h < num_heads; ++h) {
      StructuredUnit unit;
      unit.label = fmt::format("layer {} head {}", layer, h);
      unit.layer = layer;
      unit.index = h;
      unit.rows.push_back({qkv, 3 * head_dim * h, 3 * head_dim});
      if (bias_view) unit.rows.push_back({bias_view, 3 * head_dim * h, 3 * head_dim});
      unit.columns.push_back({dense->second, head_dim * h, head_dim});
      // Value rows are the last d of the head's 3d rows (q, k, v interleaved per head).
      double value_norm = block_squared_norm(parameters, {qkv, 3 * head_dim * h + 2 * head_dim, head_dim}, false);
      if (bias_view)
        value_norm += block_squared_norm(parameters, {bias_view, 3 * head_dim * h + 2 * head_dim, head_dim}, false);
      double output_norm = block_squared_norm(parameters, unit.columns.back(), true);
      unit.score = std::sqrt(value_norm * output_norm);
      units.push_back(std::move(unit));
    }
  }
  return units;
}

std::vector<StructuredUnit> mlp_neurons(const ParameterTable& table, std::span<const float> parameters) {
  auto in_weights = views_by_layer(table, "mlp.dense_h_to_4h.weight");
  auto in_biases = views_by_layer(table, "mlp.dense_h_to_4h.bias");
  auto out_weights = views_by_layer(table, "mlp.dense_4h_to_h.weight");
  LLC_CHECK(!in_weights.empty(), InputError, "mlp.dense_h_to_4h.weight",
            "prune-neurons works on GPT-NeoX models (tensor names as in the checkpoint)",
            "the model has no MLP layers to prune");
  std::vector<StructuredUnit> units;
  for (const auto& [layer, in] : in_weights) {
    LLC_CHECK(in->shape.size() == 2, InputError, in->name, "the checkpoint is inconsistent", "expected a matrix");
    const std::int64_t intermediate = in->rows();
    auto out = out_weights.find(layer);
    LLC_CHECK(out != out_weights.end() && out->second->shape.size() == 2 && out->second->cols() == intermediate,
              InputError, in->name, "the checkpoint is incomplete",
              "layer {} has no mlp.dense_4h_to_h.weight with {} columns", layer, intermediate);
    auto bias = in_biases.find(layer);
    const ParameterView* bias_view = bias == in_biases.end() ? nullptr : bias->second;
    LLC_CHECK(!bias_view || static_cast<std::int64_t>(bias_view->size) == intermediate, InputError,
              bias_view ? bias_view->name : in->name, "the checkpoint is inconsistent",
              "dense_h_to_4h.bias has {} entries, expected {}", bias_view ? bias_view->size : 0, intermediate);
    for (std::int64_t j = 0; j < intermediate; ++j) {
      StructuredUnit unit;
      unit.label = fmt::format("layer {} neuron {}", layer, j);
      unit.layer = layer;
      unit.index = static_cast<int>(j);
      unit.rows.push_back({in, j, 1});
      if (bias_view) unit.rows.push_back({bias_view, j, 1});
      unit.columns.push_back({out->second, j, 1});
      double in_norm = 0;
      for (const RowBlock& block : unit.rows) in_norm += block_squared_norm(parameters, block, false);
      unit.score = std::sqrt(in_norm * block_squared_norm(parameters, unit.columns.back(), true));
      units.push_back(std::move(unit));
    }
  }
  return units;
}

void order_by_score(std::vector<StructuredUnit>& units) {
  std::stable_sort(units.begin(), units.end(), [](const StructuredUnit& a, const StructuredUnit& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.layer != b.layer) return a.layer < b.layer;
    return a.index < b.index;
  });
}

void zero_unit(backend::Backend& backend, std::span<float> out, const StructuredUnit& unit) {
  for (const RowBlock& block : unit.rows) {
    const std::int64_t cols = columns_of(*block.view);
    backend.zero(out.data() + block.view->offset + block.first * cols, block.count * cols);
  }
  for (const RowBlock& block : unit.columns) {
    const ParameterView& view = *block.view;
    backend.zero_columns(out.data() + view.offset, view.rows(), columns_of(view), block.first, block.count);
  }
}

}  // namespace llcpress::compress
