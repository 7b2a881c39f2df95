// The option tables (pipeline/task_options.h) against the surfaces that read
// them: every option of every task kind has the same name, default and unit
// in the job file (job_options(), a loaded job), on the command line (the
// table's CLI declaration; tests/pipeline/check_cli_options.py checks each
// command's --help) and in docs/job-spec.md; errors name the spelling the
// user wrote. The `llcpress llc` / job-file equality of a whole shard is in
// mpi_pipeline_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compress/method.h"
#include "pipeline/job_spec.h"
#include "pipeline/task_options.h"

namespace llcpress {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The sections a table's keys live in, in a job file.
template <typename Target>
std::vector<std::string> job_sections(const OptionTable<Target>& table) {
  if (table.name == "llc" || table.name == "common") return {table.section};
  std::vector<std::string> sections;
  for (const auto& entry : compress::method_table()) sections.push_back("compress." + entry.info.name);
  return sections;
}

// A job file that sets nothing it does not have to, over empty dataset files.
struct MinimalJob {
  fs::path dir;
  explicit MinimalJob(const std::string& name, const std::string& extra = "") {
    dir = fs::temp_directory_path() / ("llcpress_options_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const char* file : {"data.idx", "data.bin"}) std::ofstream(dir / file).put('\0');
    std::ofstream(dir / "job.ini") << "[job]\noutput = " << (dir / "out").string()
                                   << "\n[data]\nprefix = " << (dir / "data").string()
                                   << "\nseq_len = 16\nsgld_sequences = 0:4\n"
                                   << "eval_sequences = 0:4\n[models]\nmodel = m:" << (dir / "m").string()
                                   << "\n[compress]\nmethods = " << compress::method_names(",") << "\n"
                                   << extra;
  }
  ~MinimalJob() { fs::remove_all(dir); }
  fs::path path() const { return dir / "job.ini"; }
};

// The default a po::options_description declares for `name`, as option text ("" when none).
std::string declared_default(const po::options_description& options, const std::string& name, OptionType type) {
  const po::option_description* found = options.find_nothrow(name, false);
  if (!found) return "<not declared>";
  boost::any value;
  if (!found->semantic()->apply_default(value)) return "";
  return option_text(stored_value(po::variable_value(value, true), type));
}

template <typename Target>
void expect_job_agrees(const OptionTable<Target>& table, const JobSpec& job, const po::options_description& declared) {
  const Target defaults = table.defaults("job");
  for (const auto& option : table.options) {
    if (!table.on(option, Surface::Job)) {
      EXPECT_FALSE(option.job_note.empty()) << option.key << ": a CLI-only key says what a job file uses instead";
      continue;
    }
    for (const auto& section : job_sections(table)) {
      const std::string key = table.spelling(option, Surface::Job, section);
      const std::string expected = option_text(option.get(defaults));
      // Declared with the table's default (keys of shared sections are declared by the job spec itself) ...
      EXPECT_EQ(declared_default(declared, key, option.type), expected) << key;
      // ... and resolved to it when the file does not set it.
      const auto found = job.values.find(key);
      const std::string resolved =
          found == job.values.end() ? "" : option_text(stored_value(found->second, option.type));
      EXPECT_EQ(resolved, expected) << key;
    }
  }
}

TEST(TaskOptions, EveryOptionAgreesInTheJobFileTheCommandLineAndTheDocs) {
  const MinimalJob minimal("defaults");
  const JobSpec job = load_job(minimal.path().string());
  const po::options_description declared = job_options();
  expect_job_agrees(common_option_table(), job, declared);
  expect_job_agrees(llc_option_table(), job, declared);
  expect_job_agrees(compression_option_table(), job, declared);

  // Command line: each option is declared as --key-with-dashes with the command's default and the unit in its
  // help; check_cli_options.py does the same against the real commands' --help.
  auto expect_cli_agrees = [](const auto& table, const std::string& command) {
    po::options_description cli;
    const auto defaults = table.defaults(command);
    table.declare(cli, Surface::Cli, defaults, table.section);
    for (const auto& option : table.options) {
      if (!option.cli) continue;
      const std::string name = cli_name(option.key);
      EXPECT_EQ(table.spelling(option, Surface::Cli, table.section), "--" + name);
      EXPECT_EQ(declared_default(cli, name, option.type), option_text(option.get(defaults))) << command << " " << name;
      const po::option_description* found = cli.find_nothrow(name, false);
      ASSERT_NE(found, nullptr) << name;
      if (!option.unit.empty() && option.unit != "1") {
        EXPECT_NE(found->description().find("[" + option.unit + "]"), std::string::npos) << name;
      }
      // Numbers say what they count ("1" when dimensionless); switches have no unit.
      if (option.type == OptionType::Integer || option.type == OptionType::Real) {
        EXPECT_FALSE(option.unit.empty()) << name;
      }
      if (option.type == OptionType::Flag) {
        EXPECT_TRUE(option.unit.empty()) << name;
      }
      EXPECT_FALSE(option.help.empty()) << name;
      EXPECT_FALSE(option.field.empty()) << name;
    }
  };
  for (const char* command : {"llc", "calibrate", "sweep"}) expect_cli_agrees(common_option_table(), command);
  expect_cli_agrees(llc_option_table(), "llc");
  expect_cli_agrees(llc_option_table(), "calibrate");
  expect_cli_agrees(compression_option_table(), "sweep");

  // Docs: docs/job-spec.md holds each table as `llcpress options --markdown` prints it.
  const std::string docs = read_text(fs::path(LLCPRESS_SOURCE_DIR) / "docs/job-spec.md");
  for (const auto& table : option_tables_json()) {
    const std::string name = table["table"].get<std::string>();
    const auto open = docs.find("<!-- options:" + name + " "), close = docs.find("<!-- /options:" + name + " -->");
    ASSERT_TRUE(open != std::string::npos && close != std::string::npos && open < close)
        << "docs/job-spec.md has no options:" << name << " block";
    const auto body = docs.find("-->\n", open) + 4;
    EXPECT_EQ(docs.substr(body, close - body), options_markdown(table))
        << "docs/job-spec.md is out of date: paste `llcpress options --markdown --table " << name << "` over it";
  }
}

TEST(TaskOptions, TheLocalizationDefaultIsStatedOnce) {
  // γ used to default to 0 (SamplerConfig), 100 (llc, job files) and 1 (calibrate): now the struct's value is
  // the table's, the CLI's and the job file's; calibrate differs only through a listed, explained override.
  const auto& table = llc_option_table();
  const Option<slt::LlcConfig>* gamma = table.find("gamma");
  ASSERT_NE(gamma, nullptr);
  EXPECT_EQ(slt::SamplerConfig{}.localization, 100.0);
  EXPECT_EQ(std::get<double>(gamma->get(table.defaults("llc"))), slt::SamplerConfig{}.localization);
  const MinimalJob minimal("gamma");
  EXPECT_EQ(load_job(minimal.path().string()).values["llc.gamma"].as<double>(), slt::SamplerConfig{}.localization);
  EXPECT_EQ(std::get<double>(gamma->get(table.defaults("calibrate"))), 1.0);
  int listed = 0;
  for (const auto& override : table.overrides) {
    EXPECT_NE(table.find(override.key), nullptr) << override.key;
    EXPECT_GT(override.why.size(), 20u) << override.key << ": an override says why";
    listed += override.key == "gamma" && override.command == "calibrate";
  }
  EXPECT_EQ(listed, 1);
}

// The ConfigError `action` throws names `where`.
template <typename Action>
void expect_error_names(const std::string& where, Action&& action) {
  try {
    action();
    ADD_FAILURE() << "no error; expected one naming " << where;
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.where(), where) << error.what();
  }
}

template <typename Target>
Target parse_cli(const OptionTable<Target>& table, const std::string& command, std::vector<std::string> args) {
  po::options_description cli;
  table.declare(cli, Surface::Cli, table.defaults(command), table.section);
  po::variables_map values;
  po::store(po::command_line_parser(args).options(cli).run(), values);
  po::notify(values);
  return table.read(values, table.defaults(command), Surface::Cli, table.section);
}

TEST(TaskOptions, ErrorsNameTheSpellingTheUserWrote) {
  const auto& llc = llc_option_table();
  const auto& compression = compression_option_table();
  expect_error_names("--burn-in", [&] { parse_cli(llc, "llc", {"--burn-in=-1"}); });
  expect_error_names("--weight-decay", [&] { parse_cli(llc, "llc", {"--weight-decay=-1"}); });
  expect_error_names("--sampler", [&] { parse_cli(llc, "calibrate", {"--sampler=langevin"}); });
  expect_error_names("--batch", [&] { parse_cli(llc, "llc", {"--batch=0"}); });
  expect_error_names("--noise-draws", [&] { parse_cli(compression, "sweep", {"--noise-draws=0"}); });
  expect_error_names("--prune-scope", [&] { parse_cli(compression, "sweep", {"--prune-scope=everywhere"}); });
  expect_error_names("--eps", [&] { parse_cli(compression, "sweep", {"--eps=0.1,-1"}); });

  for (const auto& [text, where] : std::vector<std::pair<std::string, std::string>>{
           {"[llc]\nburn_in = -1\n", "llc.burn_in"},
           {"[llc]\nsteps_between_draws = 0\n", "llc.steps_between_draws"},
           {"[llc]\nrmsprop_alpha = 1\n", "llc.rmsprop_alpha"},
           {"[compress.noise]\nnoise_draws = 0\n", "compress.noise.noise_draws"},
           {"[compress.lattice]\nlattice = E9\n", "compress.lattice.lattice"}}) {
    const MinimalJob minimal("error", text);
    expect_error_names(where, [&] { load_job(minimal.path().string()); });
  }
  // data.batch is the llc table's `batch` in a job file.
  const MinimalJob batch("batch");
  expect_error_names("data.batch", [&] { load_job(batch.path().string(), {"--data.batch=0"}); });

  // Switches: `--shared-batches` alone is true; `--mala=false` turns the default-on estimate off.
  const slt::LlcConfig flags = parse_cli(llc, "llc", {"--shared-batches", "--mala=false"});
  EXPECT_TRUE(flags.shared_batches);
  EXPECT_FALSE(flags.mala);
}

}  // namespace
}  // namespace llcpress
