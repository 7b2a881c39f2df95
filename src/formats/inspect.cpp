#include "formats/inspect.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/check.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"

namespace llcpress::formats {

namespace fs = std::filesystem;

namespace {

nlohmann::json json_float(float value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;  // nlohmann prints the shortest text that reads back to this float's double
}

std::string shape_text(const nlohmann::json& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += shape[i].dump();
  }
  return text + "]";
}

// Digits grouped by thousands: parameter counts are read by eye.
std::string grouped(std::int64_t value) {
  std::string digits = std::to_string(value), text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') text += ',';
    text += digits[i];
  }
  return text;
}

nlohmann::json inspect_checkpoint(const std::string& path, const InspectOptions& options) {
  const Checkpoint checkpoint = Checkpoint::open(path);
  nlohmann::json report;
  report["kind"] = "checkpoint";
  report["path"] = path;
  report["format"] = checkpoint.weights_format();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& file : checkpoint.weight_files())
    files.push_back({{"path", file}, {"bytes", static_cast<std::uint64_t>(fs::file_size(file))}});
  report["files"] = files;
  report["config"] = checkpoint.has_config() ? checkpoint.config().raw : nlohmann::json(nullptr);
  if (checkpoint.has_config()) {
    const auto& config = checkpoint.config();
    report["config_resolved"] = config.to_json();
  }
  report["total_parameters"] = checkpoint.total_parameters();
  report["content_hash"] = checkpoint.content_hash();
  report["content_hash_kind"] = "sha256 over name, dtype, shape, bytes of each tensor in name order, buffers excluded";
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& info : checkpoint.tensors()) {
    nlohmann::json entry = {{"name", info.name},
                            {"dtype", std::string(dtype_name(info.dtype))},
                            {"shape", info.shape},
                            {"numel", info.numel()},
                            {"buffer", is_ignored_buffer(info.name)}};
    if (options.values > 0) {
      const TensorView view = checkpoint.tensor(info.name);
      const std::size_t count = std::min<std::size_t>(options.values, static_cast<std::size_t>(info.numel()));
      std::vector<float> values(count);
      convert_to_f32(values.data(), view.bytes.data(), info.dtype, count);
      nlohmann::json list = nlohmann::json::array();
      for (float value : values) list.push_back(json_float(value));
      entry["values"] = list;
    }
    tensors.push_back(entry);
  }
  report["tensors"] = tensors;
  return report;
}

nlohmann::json inspect_dataset(const std::string& prefix, const InspectOptions& options) {
  const MegatronDataset dataset = MegatronDataset::open(prefix);
  nlohmann::json report;
  report["kind"] = "token_dataset";
  report["path"] = prefix;
  report["format"] = "megatron_mmap";
  report["files"] = {{{"path", prefix + ".idx"}, {"bytes", static_cast<std::uint64_t>(fs::file_size(prefix + ".idx"))}},
                     {{"path", prefix + ".bin"}, {"bytes", static_cast<std::uint64_t>(dataset.bin_size())}}};
  report["dtype"] = std::string(dtype_name(dataset.dtype()));
  report["dtype_code"] = megatron_code_from_dtype(dataset.dtype());
  report["num_sequences"] = dataset.num_sequences();
  report["doc_idx_entries"] = dataset.num_doc_idx();
  // doc_idx lists where each document starts plus the final end: one more entry than documents.
  report["num_documents"] = dataset.num_doc_idx() > 0 ? dataset.num_doc_idx() - 1 : 0;
  report["total_tokens"] = dataset.total_tokens();
  if (dataset.num_sequences() > 0) {
    std::int64_t shortest = std::numeric_limits<std::int64_t>::max(), longest = 0;
    for (std::size_t i = 0; i < dataset.num_sequences(); ++i) {
      shortest = std::min<std::int64_t>(shortest, dataset.sequence_length(i));
      longest = std::max<std::int64_t>(longest, dataset.sequence_length(i));
    }
    report["sequence_length"] = {
        {"min", shortest},
        {"max", longest},
        {"mean", static_cast<double>(dataset.total_tokens()) / static_cast<double>(dataset.num_sequences())}};
  } else {
    report["sequence_length"] = nullptr;
  }
  const std::size_t scanned = std::min(options.scan_sequences, dataset.num_sequences());
  const auto [smallest, largest] = dataset.token_range(0, scanned);
  report["token_range"] = {{"min", smallest <= largest ? nlohmann::json(smallest) : nlohmann::json(nullptr)},
                           {"max", smallest <= largest ? nlohmann::json(largest) : nlohmann::json(nullptr)},
                           {"scanned_sequences", scanned},
                           {"complete", scanned == dataset.num_sequences()}};
  if (options.values > 0) {
    nlohmann::json first = nlohmann::json::array();
    for (std::size_t i = 0; i < std::min<std::size_t>(4, dataset.num_sequences()); ++i) {
      const auto length = static_cast<std::size_t>(dataset.sequence_length(i));
      std::vector<std::int32_t> tokens(std::min(options.values, length));
      dataset.read_tokens(i, 0, tokens);
      first.push_back({{"sequence", i}, {"tokens", tokens}});
    }
    report["first_tokens"] = first;
  }
  return report;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

nlohmann::json inspect_path(const std::string& path, const InspectOptions& options) {
  if (fs::is_directory(path)) return inspect_checkpoint(path, options);
  if (ends_with(path, ".idx")) return inspect_dataset(path.substr(0, path.size() - 4), options);
  if (ends_with(path, ".bin") && fs::exists(path.substr(0, path.size() - 4) + ".idx"))
    return inspect_dataset(path.substr(0, path.size() - 4), options);
  if (!fs::exists(path) && fs::exists(path + ".idx")) return inspect_dataset(path, options);
  LLC_CHECK(fs::exists(path), IoError, path,
            "pass a checkpoint directory, a .safetensors / .bin / .index.json file, or a dataset prefix",
            "no such file, directory or dataset prefix (PATH.idx)");
  return inspect_checkpoint(path, options);
}

std::string format_inspect_report(const nlohmann::json& report) {
  std::string out;
  auto line = [&](const std::string& key, const std::string& value) { out += fmt::format("{:<18}{}\n", key, value); };
  line("path", report["path"].get<std::string>());
  line("format", report["format"].get<std::string>());
  for (const auto& file : report["files"])
    line("file", fmt::format("{} ({} bytes)", file["path"].get<std::string>(), file["bytes"].get<std::uint64_t>()));

  if (report["kind"] == "token_dataset") {
    line("dtype", fmt::format("{} (code {})", report["dtype"].get<std::string>(), report["dtype_code"].get<int>()));
    line("sequences", grouped(report["num_sequences"].get<std::int64_t>()));
    line("documents", fmt::format("{} ({} doc_idx entries)", grouped(report["num_documents"].get<std::int64_t>()),
                                  report["doc_idx_entries"].get<std::int64_t>()));
    line("tokens", grouped(report["total_tokens"].get<std::int64_t>()));
    const auto& lengths = report["sequence_length"];
    if (!lengths.is_null())
      line("sequence length", fmt::format("min {}, mean {:.2f}, max {}", lengths["min"].get<std::int64_t>(),
                                          lengths["mean"].get<double>(), lengths["max"].get<std::int64_t>()));
    const auto& range = report["token_range"];
    const std::string scope = range["complete"].get<bool>()
                                  ? "all sequences"
                                  : fmt::format("first {} sequences; --scan-sequences for more",
                                                range["scanned_sequences"].get<std::size_t>());
    line("token range", range["min"].is_null() ? "(no tokens)"
                                               : fmt::format("[{}, {}] ({})", range["min"].get<std::int64_t>(),
                                                             range["max"].get<std::int64_t>(), scope));
    if (report.contains("first_tokens")) {
      for (const auto& sequence : report["first_tokens"])
        line(fmt::format("sequence {}", sequence["sequence"].get<std::size_t>()), sequence["tokens"].dump());
    }
    return out;
  }

  if (!report["config"].is_null()) {
    const auto& config = report["config_resolved"];
    line("config", fmt::format("{}: hidden {}, layers {}, heads {}, intermediate {}, vocab {}, rotary_pct {}, "
                               "rotary base {}",
                               config["model_type"].get<std::string>(), config["hidden_size"].get<int>(),
                               config["num_hidden_layers"].get<int>(), config["num_attention_heads"].get<int>(),
                               config["intermediate_size"].get<int>(), config["vocab_size"].get<int>(),
                               config["rotary_pct"].get<double>(), config["rotary_emb_base"].get<double>()));
  } else {
    line("config", "(no config.json)");
  }
  std::size_t buffers = 0, name_width = 4;
  for (const auto& tensor : report["tensors"]) {
    buffers += tensor["buffer"].get<bool>() ? 1 : 0;
    name_width = std::max(name_width, tensor["name"].get<std::string>().size());
  }
  line("parameters", fmt::format("{} in {} tensors{}", grouped(report["total_parameters"].get<std::int64_t>()),
                                 report["tensors"].size() - buffers,
                                 buffers ? fmt::format(" ({} buffers listed, not counted)", buffers) : ""));
  line("content hash", fmt::format("sha256:{}", report["content_hash"].get<std::string>()));
  out += fmt::format("\n{:<{}}  {:<5}  {:<16}  {:>12}\n", "name", name_width, "dtype", "shape", "elements");
  for (const auto& tensor : report["tensors"]) {
    out += fmt::format("{:<{}}  {:<5}  {:<16}  {:>12}{}\n", tensor["name"].get<std::string>(), name_width,
                       tensor["dtype"].get<std::string>(), shape_text(tensor["shape"]),
                       grouped(tensor["numel"].get<std::int64_t>()), tensor["buffer"].get<bool>() ? "  (buffer)" : "");
    if (tensor.contains("values")) {
      std::string values;
      for (const auto& value : tensor["values"]) {
        if (!values.empty()) values += ' ';
        values += value.dump();
      }
      out += fmt::format("{:<{}}  values: {}\n", "", name_width, values);
    }
  }
  return out;
}

}  // namespace llcpress::formats
