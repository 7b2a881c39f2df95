#include "pipeline/job_spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/check.h"
#include "pipeline/slurm.h"
#include "pipeline/task_options.h"

namespace llcpress {

namespace fs = std::filesystem;

SequenceRange SequenceRange::parse(const std::string& text, const std::string& key) {
  auto colon = text.find(':');
  SequenceRange range;
  try {
    LLC_CHECK(colon != std::string::npos, ConfigError, key, "write it as A:B, e.g. 0:64", "'{}' is not a range", text);
    std::size_t used_begin = 0, used_end = 0;
    range.begin = std::stoll(text.substr(0, colon), &used_begin);
    range.end = std::stoll(text.substr(colon + 1), &used_end);
    LLC_CHECK(used_begin == colon && used_end == text.size() - colon - 1, ConfigError, key,
              "write it as A:B with integers", "'{}' is not a range of integers", text);
  } catch (const std::logic_error&) {
    throw ConfigError(fmt::format("'{}' is not a range of integers", text), key, "write it as A:B, e.g. 0:64");
  }
  LLC_CHECK(range.begin >= 0 && range.end > range.begin, ConfigError, key, "A must be >= 0 and B > A",
            "'{}' is an empty or negative range", text);
  return range;
}

std::string SequenceRange::to_string() const { return fmt::format("{}:{}", begin, end); }

const TaskKind* find_task_kind(const std::string& name) {
  for (const auto& kind : task_kinds())
    if (kind.name == name) return &kind;
  return nullptr;
}

po::options_description job_options() {
  po::options_description options("Job file keys");
  // Two task keys live in shared sections; their defaults come from the task option tables.
  const int batch_default = std::get<int>(llc_option_table().find("batch")->get(llc_option_table().defaults()));
  const std::string eps_default =
      option_text(compression_option_table().find("eps")->get(compression_option_table().defaults()));
  // clang-format off
  options.add_options()
    ("job.name", po::value<std::string>()->default_value("job"), "name recorded in outputs and SLURM job names")
    ("job.output", po::value<std::string>(), "output directory (plan.json, shards/, results.h5)")
    ("job.seed", po::value<std::uint64_t>()->default_value(0), "seed of every random stream (keyed further by shard, chain, step)")
    ("job.log_level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error")
    ("data.prefix", po::value<std::string>(), "Megatron dataset prefix (PREFIX.idx / PREFIX.bin) for SGLD batches")
    ("data.heldout_prefix", po::value<std::string>(), "Megatron dataset prefix for the held-out evaluation (default: data.prefix)")
    ("data.seq_len", po::value<int>(), "tokens per sequence fed to the model (T; each window reads T+1 tokens)")
    ("data.batch", po::value<int>()->default_value(batch_default), "sequences per batch (SGLD minibatch and evaluation chunk)")
    ("data.sgld_sequences", po::value<std::string>(), "A:B — the sequences SGLD minibatches are drawn from")
    ("data.eval_sequences", po::value<std::string>(), "A:B — the fixed held-out sequences every loss evaluation uses")
    ("models.model", po::value<std::vector<std::string>>()->composing(), "NAME:PATTERN[,PATTERN...] (repeat per model)")
    ("models.data", po::value<std::vector<std::string>>()->composing(), "NAME:PREFIX — this model's SGLD dataset instead of data.prefix")
    ("models.heldout", po::value<std::vector<std::string>>()->composing(), "NAME:PREFIX — this model's held-out dataset instead of data.heldout_prefix")
    ("llc.enabled", po::value<bool>()->default_value(true), "run the LLC task on every checkpoint")
    ("compress.methods", po::value<std::string>()->default_value(""), "comma-separated compression methods")
    ("compress.eps", po::value<std::string>()->default_value(eps_default), "loss-increase tolerances ε (nats)");
  // clang-format on
  // job.device, job.precision, job.threads: the common option table (pipeline/task_options.cpp).
  common_option_table().declare(options, Surface::Job, common_option_table().defaults("job"), "job");
  add_slurm_options(options);
  for (const auto& kind : task_kinds())
    if (kind.add_options) kind.add_options(options);
  return options;
}

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) {
    auto first = part.find_first_not_of(" \t"), last = part.find_last_not_of(" \t");
    if (first != std::string::npos) parts.push_back(part.substr(first, last - first + 1));
  }
  return parts;
}

template <typename T>
T required(const po::variables_map& values, const std::string& key, const std::string& hint) {
  LLC_CHECK(values.count(key), ConfigError, key, hint, "missing required key");
  return values[key].as<T>();
}

void check_dataset(const std::string& prefix, const std::string& key) {
  for (const char* suffix : {".idx", ".bin"})
    LLC_CHECK(fs::exists(prefix + suffix), ConfigError, key,
              "give the dataset prefix without .idx/.bin; `llcpress make-suite` writes one for the demo",
              "{}{} does not exist", prefix, suffix);
}

}  // namespace

std::vector<std::string> JobSpec::tasks() const {
  std::vector<std::string> names;
  if (llc_enabled) names.push_back("llc");
  names.insert(names.end(), methods.begin(), methods.end());
  return names;
}

nlohmann::json JobSpec::resolved() const {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : values) {
    const auto& any = value.value();
    if (auto* text = boost::any_cast<std::string>(&any))
      json[key] = *text;
    else if (auto* integer = boost::any_cast<int>(&any))
      json[key] = *integer;
    else if (auto* unsigned_integer = boost::any_cast<std::uint64_t>(&any))
      json[key] = *unsigned_integer;
    else if (auto* real = boost::any_cast<double>(&any))
      json[key] = *real;
    else if (auto* flag = boost::any_cast<bool>(&any))
      json[key] = *flag;
    else if (auto* list = boost::any_cast<std::vector<std::string>>(&any))
      json[key] = *list;
  }
  // Paths as absolute as the plan stores them: a record that does not depend on
  // the directory a later command runs in.
  auto absolute = [](const std::string& text) {
    return text.empty() ? text : fs::absolute(text).lexically_normal().string();
  };
  for (const char* key : {"job.output", "data.prefix", "data.heldout_prefix"})
    if (json.contains(key)) json[key] = absolute(json[key].get<std::string>());
  for (const char* key : {"models.model", "models.data", "models.heldout"}) {
    if (!json.contains(key)) continue;
    for (auto& entry : json[key]) {
      // NAME:PATH[,PATH...]; the name has no ':' (load_job splits at the first one).
      const std::string text = entry.get<std::string>();
      const auto colon = text.find(':');
      if (colon == std::string::npos) continue;
      std::string paths;
      for (const auto& part : split(text.substr(colon + 1), ',')) {
        if (!paths.empty()) paths += ',';
        paths += absolute(part);
      }
      entry = text.substr(0, colon + 1) + paths;
    }
  }
  json["job.path"] = path.empty() ? path : absolute(path);
  return json;
}

void reject_negative_unsigned(const po::parsed_options& parsed, const std::string& where) {
  if (parsed.description == nullptr) return;
  for (const auto& option : parsed.options) {
    const po::option_description* description = parsed.description->find_nothrow(option.string_key, false);
    if (description == nullptr) continue;
    const auto* semantic = description->semantic().get();
    const bool is_unsigned = dynamic_cast<const po::typed_value<unsigned long>*>(semantic) != nullptr ||
                             dynamic_cast<const po::typed_value<unsigned long long>*>(semantic) != nullptr ||
                             dynamic_cast<const po::typed_value<unsigned int>*>(semantic) != nullptr;
    if (!is_unsigned) continue;
    for (const auto& text : option.value) {
      const auto first = text.find_first_not_of(" \t");
      LLC_CHECK(first == std::string::npos || text[first] != '-', ConfigError, option.string_key,
                "give an integer from 0 to 18446744073709551615", "'{}' is negative (in {})", text, where);
    }
  }
}

namespace {

// load_job and load_job_from_resolved: `config` holds INI text (possibly
// empty), `overrides` command-line tokens that take precedence over it.
// `preset`: key -> value pairs stored as they are, before everything else
// (load_job_from_resolved; no command-line syntax in between, so an empty or
// '-'-led value needs no quoting).
JobSpec parse_job(std::istream& config, const std::string& path, const std::vector<std::string>& overrides,
                  const std::vector<po::option>& preset = {}) {
  po::options_description options = job_options();
  JobSpec job;
  job.path = path;
  try {
    if (!preset.empty()) {
      po::parsed_options parsed(&options);
      parsed.options = preset;
      reject_negative_unsigned(parsed, path);
      po::store(parsed, job.values);
    }
    // Command-line overrides are stored first: Boost keeps the first value stored.
    if (!overrides.empty()) {
      auto parsed = po::command_line_parser(overrides).options(options).run();
      reject_negative_unsigned(parsed, "the command line");
      po::store(parsed, job.values);
    }
    auto parsed = po::parse_config_file(config, options, /*allow_unregistered=*/false);
    reject_negative_unsigned(parsed, path);
    po::store(parsed, job.values);
    po::notify(job.values);
  } catch (const po::error& error) {
    throw ConfigError(error.what(), path, "docs/job-spec.md lists every key; check spelling and section");
  }
  const auto& values = job.values;
  job.name = values["job.name"].as<std::string>();
  job.output = required<std::string>(values, "job.output", "the directory results go to, e.g. output = demo-out/run");
  job.seed = values["job.seed"].as<std::uint64_t>();
  const auto& common = common_option_table();
  const RunSettings run = common.read(values, common.defaults("job"), Surface::Job, common.section);
  job.device = run.device;
  job.precision = run.precision;
  job.threads = run.threads;
  LLC_CHECK(job.threads >= 1, ConfigError, "job.threads", "give each rank at least one thread", "{} threads",
            job.threads);
  job.log_level = values["job.log_level"].as<std::string>();
  LLC_CHECK(job.log_level == "trace" || job.log_level == "debug" || job.log_level == "info" ||
                job.log_level == "warn" || job.log_level == "error",
            ConfigError, "job.log_level", "use trace, debug, info, warn or error", "unknown level '{}'", job.log_level);

  job.data_prefix = required<std::string>(values, "data.prefix", "the Megatron dataset prefix (without .idx/.bin)");
  check_dataset(job.data_prefix, "data.prefix");
  job.heldout_prefix =
      values.count("data.heldout_prefix") ? values["data.heldout_prefix"].as<std::string>() : job.data_prefix;
  check_dataset(job.heldout_prefix, "data.heldout_prefix");
  job.seq_len = required<int>(values, "data.seq_len", "tokens per sequence, e.g. 2048 for Pythia");
  LLC_CHECK(job.seq_len >= 1 && job.seq_len <= (1 << 20), ConfigError, "data.seq_len", "", "{} is out of range",
            job.seq_len);
  job.batch = values["data.batch"].as<int>();
  LLC_CHECK(job.batch >= 1, ConfigError, "data.batch", "", "batch must be positive, got {}", job.batch);
  job.sgld_sequences =
      SequenceRange::parse(required<std::string>(values, "data.sgld_sequences", "e.g. 0:4096"), "data.sgld_sequences");
  job.eval_sequences =
      SequenceRange::parse(required<std::string>(values, "data.eval_sequences", "e.g. 0:64"), "data.eval_sequences");

  LLC_CHECK(values.count("models.model"), ConfigError, "models.model", "add e.g. model = demo-s:suite/demo-s/step*",
            "no models listed");
  std::set<std::string> names;
  for (const auto& entry : values["models.model"].as<std::vector<std::string>>()) {
    auto colon = entry.find(':');
    LLC_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < entry.size(), ConfigError, "models.model",
              "write NAME:PATTERN, e.g. pythia-70m:/data/pythia-70m/step*", "'{}' has no NAME:PATTERN form", entry);
    ModelSpec model{entry.substr(0, colon), split(entry.substr(colon + 1), ','), job.data_prefix, job.heldout_prefix};
    LLC_CHECK(names.insert(model.name).second, ConfigError, "models.model", "give each model a distinct name",
              "model '{}' is listed twice", model.name);
    job.models.push_back(std::move(model));
  }

  for (const char* key : {"models.data", "models.heldout"}) {
    if (!values.count(key)) continue;
    std::set<std::string> overridden;
    for (const auto& entry : values[key].as<std::vector<std::string>>()) {
      auto colon = entry.find(':');
      LLC_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < entry.size(), ConfigError, key,
                "write NAME:PREFIX, e.g. pythia-70m:/data/pile_val", "'{}' has no NAME:PREFIX form", entry);
      const std::string name = entry.substr(0, colon), prefix = entry.substr(colon + 1);
      auto model =
          std::find_if(job.models.begin(), job.models.end(), [&](const ModelSpec& m) { return m.name == name; });
      LLC_CHECK(model != job.models.end(), ConfigError, key, "name a model listed with models.model", "no model '{}'",
                name);
      LLC_CHECK(overridden.insert(name).second, ConfigError, key, "give one dataset per model",
                "model '{}' is given twice", name);
      check_dataset(prefix, key);
      (std::string(key) == "models.data" ? model->data_prefix : model->heldout_prefix) = prefix;
    }
  }

  job.llc_enabled = values["llc.enabled"].as<bool>();
  job.methods = split(values["compress.methods"].as<std::string>(), ',');
  std::set<std::string> seen;
  for (const auto& method : job.methods) {
    const TaskKind* kind = find_task_kind(method);
    std::string known;
    for (const auto& k : task_kinds())
      if (k.name != "llc") known += (known.empty() ? "" : ", ") + k.name;
    LLC_CHECK(kind != nullptr && method != "llc", ConfigError, "compress.methods", "known methods: " + known,
              "unknown compression method '{}'", method);
    LLC_CHECK(seen.insert(method).second, ConfigError, "compress.methods", "", "'{}' is listed twice", method);
  }
  LLC_CHECK(!job.tasks().empty(), ConfigError, "compress.methods", "enable llc or list compression methods",
            "the job has no tasks");
  job.eps.clear();
  for (const auto& text : split(values["compress.eps"].as<std::string>(), ',')) {
    double value = 0;
    try {
      std::size_t used = 0;
      value = std::stod(text, &used);
      LLC_CHECK(used == text.size(), ConfigError, "compress.eps", "", "'{}' is not a number", text);
    } catch (const std::logic_error&) {
      throw ConfigError(fmt::format("'{}' is not a number", text), "compress.eps", "e.g. eps = 0.3,0.5,0.7");
    }
    LLC_CHECK(value > 0, ConfigError, "compress.eps", "tolerances are loss increases in nats, > 0",
              "ε = {} is not positive", value);
    job.eps.push_back(value);
  }
  LLC_CHECK(!job.eps.empty() || job.methods.empty(), ConfigError, "compress.eps", "", "no tolerances given");

  for (const auto& task : job.tasks()) {
    const TaskKind* kind = find_task_kind(task);
    if (kind && kind->validate) kind->validate(job);
  }
  SlurmSettings::from_job(job);  // validates the [slurm] keys now, not at submit time
  return job;
}

}  // namespace

JobSpec load_job(const std::string& path, const std::vector<std::string>& overrides) {
  LLC_CHECK(fs::is_regular_file(path), ConfigError, path, "pass the path of a job .ini file (see jobs/demo.ini)",
            "job file not found");
  std::ifstream file(path);
  return parse_job(file, path, overrides);
}

JobSpec load_job_from_resolved(const nlohmann::json& resolved, const std::string& where) {
  LLC_CHECK(resolved.is_object(), InputError, where, "re-run `llcpress plan JOB.ini`", "no resolved job settings");
  // Every key with its value as text (doubles print with round-trip precision);
  // a list becomes one value per element, as a repeated key would.
  std::vector<po::option> preset;
  for (const auto& [key, value] : resolved.items()) {
    if (key == "job.path") continue;
    std::vector<std::string> texts;
    if (value.is_array()) {
      for (const auto& element : value) texts.push_back(element.get<std::string>());
    } else {
      texts.push_back(value.is_string() ? value.get<std::string>() : value.dump());
    }
    for (const auto& text : texts) preset.emplace_back(key, std::vector<std::string>{text});
  }
  std::istringstream no_file;
  JobSpec job = parse_job(no_file, where, {}, preset);
  job.path = resolved.value("job.path", std::string());
  return job;
}

}  // namespace llcpress
