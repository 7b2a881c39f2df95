// One declaration per option. An OptionTable lists the settings of one task
// kind (the LLC estimator, a compression sweep): key, type, unit, help text,
// the field of the configuration struct it sets, and where it is spelled.
// The command line (`--burn-in`), the job file (`llc.burn_in`), `--help`,
// docs/job-spec.md (`llcpress options --markdown`) and the test that keeps
// them in agreement all read the same table.
//
// Defaults are stated once: they are the default member initialisers of the
// target struct (e.g. slt::SamplerConfig::localization), read through the
// entry's accessor from a default-constructed target. A command that truly
// needs other defaults (`calibrate` runs toy models) lists them as
// DefaultOverrides, each with the reason, and the docs print them.
//
// Validation stays with the target (LlcConfig::validate, ...): it raises
// ConfigError whose where() is the table key ("burn_in"); respelled() turns
// that into the spelling the user wrote ("--burn-in" or "llc.burn_in").
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/check.h"

namespace llcpress {

namespace po = boost::program_options;

// A value of an option; monostate = no value (an option whose default is "the method's own").
using OptionValue =
    std::variant<std::monostate, bool, int, std::uint64_t, double, std::string, std::vector<std::string>>;

enum class OptionType : std::uint8_t { Flag, Integer, Seed, Real, Text, TextList };
const char* option_type_name(OptionType type);  // "bool", "int", "uint64", "real", "text", "list"

// How a value is written on the command line and in INI files: "true", "100", "0.0001", "a,b".
std::string option_text(const OptionValue& value);

// Where an option is spelled.
enum class Surface : std::uint8_t { Cli, Job };

template <typename Target>
struct Option {
  std::string key;  // canonical snake_case name; CLI --key-with-dashes, job <section>.key
  OptionType type = OptionType::Real;
  std::string unit;   // "1" for dimensionless numbers, "" for labels and switches
  std::string help;   // one line
  std::string field;  // the target field it sets, e.g. "LlcConfig::sampler.localization"
  std::function<OptionValue(const Target&)> get;
  std::function<void(Target&, const OptionValue&)> set;  // may throw ConfigError naming `key`
  bool cli = true;
  // Job-file spelling: "" = "<section>.<key>"; "-" = not a job key (job_note says what takes its
  // place); any other text = a key of another section that the job spec declares itself (job_note says why).
  std::string job_key;
  std::string job_note;
};

// A command whose defaults differ from the target's, and why.
struct DefaultOverride {
  std::string command;  // "calibrate"
  std::string key;
  OptionValue value;
  std::string why;
};

// The option spelling on one surface, without the leading dashes for the CLI ("burn-in", "llc.burn_in").
std::string cli_name(const std::string& key);
std::string job_name(const std::string& key, const std::string& section);

// Boost semantics of a value of `type` with default `value` (none for monostate).
po::value_semantic* option_semantic(OptionType type, const OptionValue& value, Surface surface);
// A stored Boost value read back as an OptionValue (monostate when empty).
OptionValue stored_value(const po::variable_value& stored, OptionType type);

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

// Assigns an OptionValue to a field of arithmetic, string, list or optional type.
template <typename Field>
void assign_option(Field& field, const OptionValue& value, const std::string& key) {
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::monostate>) {
          if constexpr (is_optional<Field>::value) field.reset();
        } else if constexpr (std::is_arithmetic_v<X> && is_optional<Field>::value) {
          field = static_cast<typename Field::value_type>(x);  // std::optional<double>
        } else if constexpr (std::is_arithmetic_v<X> && std::is_arithmetic_v<Field>) {
          if constexpr (std::is_signed_v<X> && std::is_unsigned_v<Field>)
            LLC_CHECK(x >= 0, ConfigError, key, "give a count >= 0", "{} is negative", x);
          field = static_cast<Field>(x);
        } else if constexpr (std::is_assignable_v<Field&, X>) {
          field = x;
        } else {
          LLC_THROW(InternalError, key, "the option table binds this key to a field of another type", "type mismatch");
        }
      },
      value);
}

// The value of a field as an OptionValue of `type`.
template <typename Field>
OptionValue field_value(const Field& field, OptionType type) {
  if constexpr (is_optional<Field>::value) {
    return field ? field_value(*field, type) : OptionValue{};
  } else if constexpr (std::is_arithmetic_v<Field>) {
    switch (type) {
      case OptionType::Flag:
        return static_cast<bool>(field);
      case OptionType::Integer:
        return static_cast<int>(field);
      case OptionType::Seed:
        return static_cast<std::uint64_t>(field);
      default:
        return static_cast<double>(field);
    }
  } else {
    return field;
  }
}

// An entry whose get/set the caller fills in (fields that need parsing, e.g. an enum from its name).
template <typename Target>
Option<Target> custom_option(std::string key, OptionType type, std::string unit, std::string help, std::string field) {
  Option<Target> option;
  option.key = std::move(key);
  option.type = type;
  option.unit = std::move(unit);
  option.help = std::move(help);
  option.field = std::move(field);
  return option;
}

// An entry bound to a field through `access` (Target& -> Field&).
template <typename Target, typename Access>
Option<Target> field_option(std::string key, OptionType type, std::string unit, std::string help, std::string field,
                            Access access) {
  Option<Target> option = custom_option<Target>(key, type, std::move(unit), std::move(help), std::move(field));
  option.get = [access, type](const Target& target) {
    Target copy = target;
    return field_value(access(copy), type);
  };
  option.set = [access, key](Target& target, const OptionValue& value) { assign_option(access(target), value, key); };
  return option;
}

template <typename Target>
struct OptionTable {
  std::string name;     // "llc"
  std::string section;  // job-file section of its keys ("llc"; per-method tables: "compress.<method>")
  std::string summary;
  std::vector<Option<Target>> options;
  std::vector<DefaultOverride> overrides;
  std::function<void(const Target&)> validate;  // ConfigError with where() = a key

  const Option<Target>* find(const std::string& key) const {
    for (const auto& option : options)
      if (option.key == key) return &option;
    return nullptr;
  }
  bool on(const Option<Target>& option, Surface surface) const {
    return surface == Surface::Cli ? option.cli : option.job_key != "-";
  }
  // The spelling the user writes: "--burn-in" or "llc.burn_in".
  std::string spelling(const Option<Target>& option, Surface surface, const std::string& job_section) const {
    if (surface == Surface::Cli) return "--" + cli_name(option.key);
    return option.job_key.empty() ? job_name(option.key, job_section) : option.job_key;
  }
  std::string spelling(const std::string& key, Surface surface, const std::string& job_section) const {
    const Option<Target>* option = find(key);
    return option ? spelling(*option, surface, job_section) : key;
  }

  // The target with this command's defaults: the struct's own, then the command's overrides.
  Target defaults(const std::string& command = "") const {
    Target target{};
    for (const auto& override : overrides) {
      if (override.command != command) continue;
      const Option<Target>* option = find(override.key);
      LLC_CHECK(option != nullptr, InternalError, override.key, "list only keys of the table as overrides",
                "table '{}' has no such key", name);
      option->set(target, override.value);
    }
    return target;
  }

  // Runs `action`; a ConfigError naming one of the table's keys is rethrown naming its spelling on `surface`.
  template <typename Action>
  void respelled(Surface surface, const std::string& job_section, Action&& action) const {
    try {
      action();
    } catch (const ConfigError& error) {
      if (!find(error.where())) throw;
      throw ConfigError(error.message(), spelling(error.where(), surface, job_section), error.hint());
    }
  }

  // Declares the options of `surface` (the job spelling of those declared by another section is skipped).
  void declare(po::options_description& description, Surface surface, const Target& defaults,
               const std::string& job_section) const {
    for (const auto& option : options) {
      if (!on(option, surface) || (surface == Surface::Job && !option.job_key.empty())) continue;
      const std::string name =
          surface == Surface::Cli ? cli_name(option.key) : spelling(option, Surface::Job, job_section);
      const std::string help =
          option.unit.empty() || option.unit == "1" ? option.help : option.help + " [" + option.unit + "]";
      description.add_options()(name.c_str(), option_semantic(option.type, option.get(defaults), surface),
                                help.c_str());
    }
  }

  // Reads the declared options of `surface` into `target` (unset ones keep its values) and validates it.
  Target read(const po::variables_map& values, Target target, Surface surface, const std::string& job_section) const {
    for (const auto& option : options) {
      if (!on(option, surface)) continue;
      std::string name = spelling(option, surface, job_section);
      if (surface == Surface::Cli) name = name.substr(2);
      const auto found = values.find(name);
      if (found == values.end() || found->second.empty()) continue;
      respelled(surface, job_section, [&] { option.set(target, stored_value(found->second, option.type)); });
    }
    if (validate) respelled(surface, job_section, [&] { validate(target); });
    return target;
  }

  // Every option as JSON (for `llcpress options --json` and the agreement test).
  nlohmann::json to_json(const std::string& job_section) const {
    nlohmann::json rows = nlohmann::json::array();
    const Target base = defaults();
    for (const auto& option : options) {
      nlohmann::json row = {{"key", option.key},
                            {"type", option_type_name(option.type)},
                            {"default", option_text(option.get(base))},
                            {"has_default", option.get(base).index() != 0},
                            {"unit", option.unit},
                            {"help", option.help},
                            {"field", option.field},
                            {"cli", option.cli ? spelling(option, Surface::Cli, job_section) : ""},
                            {"job", on(option, Surface::Job) ? spelling(option, Surface::Job, job_section) : ""},
                            {"job_note", option.job_note}};
      nlohmann::json command_defaults = nlohmann::json::object();
      for (const auto& override : overrides)
        if (override.key == option.key)
          command_defaults[override.command] = {{"default", option_text(override.value)}, {"why", override.why}};
      row["command_defaults"] = command_defaults;
      rows.push_back(row);
    }
    return {{"table", name}, {"section", job_section}, {"summary", summary}, {"options", rows}};
  }
};

// A markdown table of `json` (OptionTable::to_json): key spellings, type, default, unit, meaning and
// target field, then the per-command defaults with their reasons. docs/job-spec.md holds these blocks.
std::string options_markdown(const nlohmann::json& table);

}  // namespace llcpress
