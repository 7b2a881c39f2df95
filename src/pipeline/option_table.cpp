#include "pipeline/option_table.h"

#include <fmt/format.h>

#include <algorithm>

namespace llcpress {

const char* option_type_name(OptionType type) {
  switch (type) {
    case OptionType::Flag:
      return "bool";
    case OptionType::Integer:
      return "int";
    case OptionType::Seed:
      return "uint64";
    case OptionType::Real:
      return "real";
    case OptionType::Text:
      return "text";
    case OptionType::TextList:
      return "list";
  }
  return "?";
}

std::string option_text(const OptionValue& value) {
  return std::visit(
      [](const auto& x) -> std::string {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::monostate>)
          return "";
        else if constexpr (std::is_same_v<X, bool>)
          return x ? "true" : "false";
        else if constexpr (std::is_same_v<X, std::string>)
          return x;
        else if constexpr (std::is_same_v<X, std::vector<std::string>>)
          return fmt::format("{}", fmt::join(x, ","));
        else
          return fmt::format("{}", x);
      },
      value);
}

std::string cli_name(const std::string& key) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

std::string job_name(const std::string& key, const std::string& section) { return section + "." + key; }

namespace {

template <typename T>
po::typed_value<T>* with_default(po::typed_value<T>* semantic, const OptionValue& value) {
  if (value.index() != 0) semantic->default_value(std::get<T>(value), option_text(value));
  return semantic;
}

}  // namespace

po::value_semantic* option_semantic(OptionType type, const OptionValue& value, Surface surface) {
  switch (type) {
    case OptionType::Flag: {
      auto* semantic = with_default(po::value<bool>(), value);
      // `--shared-batches` alone means true; `--mala=false` turns a default-on switch off.
      if (surface == Surface::Cli) semantic->implicit_value(true, "true");
      return semantic;
    }
    case OptionType::Integer:
      return with_default(po::value<int>(), value);
    case OptionType::Seed:
      return with_default(po::value<std::uint64_t>(), value);
    case OptionType::Real:
      return with_default(po::value<double>(), value);
    case OptionType::Text:
      return with_default(po::value<std::string>(), value);
    case OptionType::TextList:
      return with_default(po::value<std::vector<std::string>>()->composing(), value);
  }
  return nullptr;
}

OptionValue stored_value(const po::variable_value& stored, OptionType type) {
  if (stored.empty()) return {};
  switch (type) {
    case OptionType::Flag:
      return stored.as<bool>();
    case OptionType::Integer:
      return stored.as<int>();
    case OptionType::Seed:
      return stored.as<std::uint64_t>();
    case OptionType::Real:
      return stored.as<double>();
    case OptionType::Text:
      return stored.as<std::string>();
    case OptionType::TextList:
      return stored.as<std::vector<std::string>>();
  }
  return {};
}

namespace {

std::string code(const std::string& text) { return text.empty() ? "" : "`" + text + "`"; }

// A table cell: '|' would end it.
std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::string options_markdown(const nlohmann::json& table) {
  std::string out =
      "| job file | command line | type | default | unit | meaning | sets |\n|---|---|---|---|---|---|---|\n";
  std::string overrides;
  for (const auto& row : table["options"]) {
    const std::string job = row["job"].get<std::string>(), note = row["job_note"].get<std::string>();
    std::string job_cell = job.empty() ? "—" : code(job);
    if (!note.empty()) job_cell += " (" + cell(note) + ")";
    const std::string cli = row["cli"].get<std::string>();
    const std::string default_text =
        row["has_default"].get<bool>()
            ? (row["default"].get<std::string>().empty() ? "(empty)" : code(row["default"].get<std::string>()))
            : "(the method's)";
    out += fmt::format("| {} | {} | {} | {} | {} | {} | `{}` |\n", job_cell, cli.empty() ? "—" : code(cli),
                       row["type"].get<std::string>(), default_text, code(row["unit"].get<std::string>()),
                       cell(row["help"].get<std::string>()), row["field"].get<std::string>());
    for (const auto& [command, entry] : row["command_defaults"].items())
      overrides += fmt::format("| `{}` | {} | {} | {} |\n", command,
                               code(row[command == "job" ? "job" : "cli"].get<std::string>()),
                               code(entry["default"].get<std::string>()), cell(entry["why"].get<std::string>()));
  }
  if (!overrides.empty())
    out +=
        "\nWhere the default differs from the table's:\n\n| where | option | default there | why |\n"
        "|---|---|---|---|\n" +
        overrides;
  return out;
}

}  // namespace llcpress
