// Which tensors a compression method touches. A selection is a set of tensor
// roles (see model/parameters.h): by default every linear layer's weight
// matrix, with embedding, unembedding, layer norms and biases selectable.
// The same selection is applied to every checkpoint of a suite, so critical
// amounts stay comparable across training steps.
#pragma once

#include <string>
#include <vector>

#include "model/parameters.h"

namespace llcpress::compress {

class TensorSelection {
 public:
  // The default: linear weights only.
  TensorSelection();
  // Parses a comma-separated list of role names: linear, embedding,
  // unembedding, norm, bias, all. `key` names the option in error messages.
  static TensorSelection parse(const std::string& text, const std::string& key = "tensors");

  bool contains(TensorRole role) const;
  void add(TensorRole role);
  // The selected views of `table`, in table order.
  std::vector<const ParameterView*> select(const ParameterTable& table) const;
  // Number of parameters the selection covers in `table`.
  std::size_t count(const ParameterTable& table) const;
  // "linear,embedding" (canonical order), for logs and output attributes.
  std::string to_string() const;

 private:
  std::vector<TensorRole> roles_;
};

const char* tensor_role_name(TensorRole role);

}  // namespace llcpress::compress
