// The fit stage over gathered tables: which rows enter which line, agreement
// with fit_linear on exactly those rows, the /fits tables written into an
// existing results file, the report, and the figure script on a small file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "core/error.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "pipeline/fit_results.h"

using namespace llcpress;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kSteps[] = {0, 10, 100, 1000, 4000};

// A synthetic study: two models × five checkpoints; quantization's critical
// level count is exactly 10 + 4·λ̂ for model a and 2 + 6·λ̂ for model b, plus
// one bound row per model that the fit must leave out.
struct Study {
  io::Table llc, critical, curves;
};

Study make_study() {
  Study study;
  std::vector<std::string> llc_model, critical_model, method, parameter, units, status, curve_model, curve_method,
      curve_parameter, curve_units;
  std::vector<std::int64_t> llc_step, critical_step, curve_step;
  std::vector<double> mean, std_dev, eps, amount, bits, predicted, curve_amount, curve_loss;
  for (const std::string model : {"a", "b"}) {
    for (int k = 0; k < 5; ++k) {
      const double lambda = (model == "a" ? 1.0 : 2.0) + 0.5 * k + 0.01 * k * k;
      llc_model.push_back(model);
      llc_step.push_back(kSteps[k]);
      mean.push_back(lambda);
      std_dev.push_back(0.05);
      for (const double e : {0.3, 0.5}) {
        critical_model.push_back(model);
        critical_step.push_back(kSteps[k]);
        method.push_back("quant");
        parameter.push_back("levels");
        units.push_back("levels");
        eps.push_back(e);
        const double levels = (model == "a" ? 10 + 4 * lambda : 2 + 6 * lambda) - 3 * e;
        const bool bound = k == 4 && e == 0.5;  // the search hit the end of its range
        status.push_back(bound ? "all_within_tolerance" : "found");
        amount.push_back(levels);
        bits.push_back(std::log2(levels));
        predicted.push_back(lambda / 1000 * std::log2(1 / e));
      }
      for (int point = 0; point < 6; ++point) {
        curve_model.push_back(model);
        curve_method.push_back("quant");
        curve_parameter.push_back("levels");
        curve_units.push_back("levels");
        curve_step.push_back(kSteps[k]);
        curve_amount.push_back(std::pow(2.0, 2 + point));
        curve_loss.push_back(3.0 - 0.1 * k + 2.0 / (1 + point));
      }
    }
  }
  study.llc.add("model", llc_model).add("step", llc_step).add("llc_mean", mean, "1").add("llc_std", std_dev);
  study.critical.add("model", critical_model)
      .add("step", critical_step)
      .add("method", method)
      .add("parameter", parameter)
      .add("parameter_unit", units)
      .add("eps", eps, "nats/token")
      .add("critical_amount", amount)
      .add("status", status)
      .add("bits_per_weight", bits)
      .add("predicted_bits", predicted);
  study.curves.add("model", curve_model)
      .add("step", curve_step)
      .add("method", curve_method)
      .add("parameter", curve_parameter)
      .add("parameter_unit", curve_units)
      .add("amount", curve_amount)
      .add("loss", curve_loss, "nats/token");
  return study;
}

const FitRow& find_row(const FitStageResult& result, const std::string& scope, double eps) {
  for (const FitRow& row : result.fits)
    if (row.scope == scope && row.eps == eps) return row;
  throw std::runtime_error("no fit row for " + scope);
}

FitStageOptions quick_options() {
  FitStageOptions options;
  options.bootstrap.replicates = 400;
  options.bootstrap.seed = 5;
  return options;
}

TEST(FitStage, FitsEachModelAndThePoolOnFoundRowsOnly) {
  const Study study = make_study();
  const FitStageResult result = compute_fit_stage(study.llc, study.critical, quick_options());
  ASSERT_EQ(result.fits.size(), 6u);  // (a, b, pooled) × ε ∈ {0.3, 0.5}

  // Model a at ε = 0.3: five exact points on 10 − 0.9 + 4·λ.
  const FitRow& a = find_row(result, "a", 0.3);
  EXPECT_TRUE(a.fitted);
  EXPECT_EQ(a.points, 5u);
  EXPECT_EQ(a.excluded_bounds, 0u);
  EXPECT_FALSE(a.intervals);  // 5 points: fewer than minimum_points_for_intervals
  EXPECT_NE(a.note.find("point fit only"), std::string::npos) << a.note;
  EXPECT_NEAR(a.fit.point.slope, 4.0, 1e-12);
  EXPECT_NEAR(a.fit.point.intercept, 10 - 0.9, 1e-11);
  EXPECT_NEAR(a.fit.point.r_squared, 1.0, 1e-12);

  // At ε = 0.5 the step-4000 row is a bound: four points, one excluded.
  const FitRow& b = find_row(result, "b", 0.5);
  EXPECT_EQ(b.points, 4u);
  EXPECT_EQ(b.excluded_bounds, 1u);
  EXPECT_NEAR(b.fit.point.slope, 6.0, 1e-12);

  // The pooled line is the plain OLS of all ten (model a and b) points.
  const FitRow& pooled = find_row(result, "pooled", 0.3);
  EXPECT_EQ(pooled.points, 10u);
  std::vector<double> x, y;
  const auto& model = study.critical.values<std::string>("model");
  const auto& eps = study.critical.values<double>("eps");
  const auto& amount = study.critical.values<double>("critical_amount");
  const auto& step = study.critical.values<std::int64_t>("step");
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (eps[i] != 0.3) continue;
    const int k = static_cast<int>(std::find(std::begin(kSteps), std::end(kSteps), step[i]) - std::begin(kSteps));
    x.push_back((model[i] == "a" ? 1.0 : 2.0) + 0.5 * k + 0.01 * k * k);
    y.push_back(amount[i]);
  }
  const LinearFit expected = fit_linear(x, y);
  EXPECT_NEAR(pooled.fit.point.slope, expected.slope, 1e-12);
  EXPECT_NEAR(pooled.fit.point.r_squared, expected.r_squared, 1e-12);
  EXPECT_LT(pooled.fit.point.r_squared, 0.999);  // two different lines pooled do not fit exactly
  EXPECT_LE(pooled.fit.slope.low, pooled.fit.point.slope);
  EXPECT_GE(pooled.fit.slope.high, pooled.fit.point.slope);

  // Bits: measured/predicted over the found rows of each ε.
  ASSERT_EQ(result.bits.size(), 2u);
  EXPECT_EQ(result.bits[0].points, 10u);
  EXPECT_EQ(result.bits[1].points, 8u);
  EXPECT_GT(result.bits[0].ratio_mean, 1.0);
}

TEST(FitStage, TooFewPointsOrConstantLambdaIsNotFitted) {
  Study study = make_study();
  FitStageOptions options = quick_options();
  options.minimum_points = 6;  // more than any one model has
  const FitStageResult result = compute_fit_stage(study.llc, study.critical, options);
  EXPECT_FALSE(find_row(result, "a", 0.3).fitted);
  EXPECT_TRUE(std::isnan(find_row(result, "a", 0.3).fit.point.slope));
  EXPECT_TRUE(find_row(result, "pooled", 0.3).fitted);  // ten points

  options.minimum_points = 2;
  EXPECT_THROW(compute_fit_stage(study.llc, study.critical, options), ConfigError);
}

// Three points exactly on a line: the bootstrap has almost no distinct
// resamples and zero residuals, so it cannot give intervals. The line keeps
// its point fit, says why, and the other lines are fitted as usual.
TEST(FitStage, ADegenerateBootstrapKeepsThePointFitAndDoesNotStopTheOthers) {
  io::Table llc, critical;
  std::vector<std::string> llc_model, model, method, status;
  std::vector<std::int64_t> llc_step, step;
  std::vector<double> mean, std_dev, eps, amount;
  for (const std::string name : {"three", "ten"}) {
    const int checkpoints = name == "three" ? 3 : 10;
    for (int k = 0; k < checkpoints; ++k) {
      llc_model.push_back(name);
      llc_step.push_back(k);
      mean.push_back(1.0 + k);
      std_dev.push_back(0.0);
      model.push_back(name);
      step.push_back(k);
      method.push_back("svd");
      status.push_back("found");
      eps.push_back(0.3);
      // "ten" scatters around its line so that its residuals are not zero
      amount.push_back(name == "three" ? 2.0 + 0.5 * k : 1.0 + 0.25 * k + 0.01 * ((k * 7) % 5));
    }
  }
  llc.add("model", llc_model).add("step", llc_step).add("llc_mean", mean).add("llc_std", std_dev);
  critical.add("model", model)
      .add("step", step)
      .add("method", method)
      .add("eps", eps)
      .add("critical_amount", amount)
      .add("status", status);
  const FitStageResult result = compute_fit_stage(llc, critical, quick_options());
  const FitRow& three = find_row(result, "three", 0.3);
  EXPECT_TRUE(three.fitted);
  EXPECT_FALSE(three.intervals);
  EXPECT_FALSE(three.note.empty());
  EXPECT_NEAR(three.fit.point.slope, 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(three.fit.slope.low));
  const FitRow& ten = find_row(result, "ten", 0.3);
  EXPECT_TRUE(ten.fitted);
  EXPECT_TRUE(ten.intervals) << ten.note;
  EXPECT_LE(ten.fit.slope.low, ten.fit.point.slope);
  EXPECT_GE(ten.fit.slope.high, ten.fit.point.slope);
  const io::Table table = fits_table(result);
  EXPECT_EQ(table.values<std::uint8_t>("intervals")[0], 0);
}

TEST(FitStage, MissingColumnsAndDuplicateCheckpointsAreClearErrors) {
  Study study = make_study();
  io::Table no_eps;
  no_eps.add("model", study.critical.values<std::string>("model"))
      .add("step", study.critical.values<std::int64_t>("step"))
      .add("method", study.critical.values<std::string>("method"))
      .add("critical_amount", study.critical.values<double>("critical_amount"));
  try {
    compute_fit_stage(study.llc, no_eps, quick_options());
    FAIL() << "a table without eps was accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("'eps'"), std::string::npos) << error.what();
  }
  io::Table duplicated;
  duplicated.add("model", std::vector<std::string>{"a", "a"})
      .add("step", std::vector<std::int64_t>{10, 10})
      .add("llc_mean", std::vector<double>{1, 2})
      .add("llc_std", std::vector<double>{0.1, 0.1});
  EXPECT_THROW(compute_fit_stage(duplicated, study.critical, quick_options()), InputError);
}

fs::path write_results_file(const Study& study, const std::string& name) {
  const fs::path directory = fs::path(testing::TempDir()) / name;
  fs::remove_all(directory);
  fs::create_directories(directory);
  io::File file = io::File::create(directory / "results.h5");
  io::write_provenance(file.root(), "{}");
  io::Group tables = file.root().create_group("tables");
  io::write_table(tables, "llc", study.llc);
  io::write_table(tables, "critical", study.critical);
  io::write_table(tables, "curves", study.curves);
  file.close();
  return directory;
}

TEST(FitStage, FitsGoIntoTheResultsFileAndReplaceEarlierOnes) {
  const Study study = make_study();
  const fs::path directory = write_results_file(study, "fit_stage_write");
  const FitStageOptions options = quick_options();
  const FitStageResult result = compute_fit_stage(study.llc, study.critical, options);
  write_fits_into_results(directory / "results.h5", result, options);
  write_fits_into_results(directory / "results.h5", result, options);  // again: replaces, no error
  const io::File file = io::File::open_read_only(directory / "results.h5");
  const io::Table fits = io::read_table(file.root(), "fits/table");
  ASSERT_EQ(fits.num_rows(), 6);
  EXPECT_EQ(fits.values<std::string>("scope")[0], "a");
  EXPECT_NEAR(fits.values<double>("slope")[0], 4.0, 1e-12);
  EXPECT_EQ(io::read_table(file.root(), "fits/bits").num_rows(), 2);
  // The earlier tables are untouched and no temporary file is left behind.
  EXPECT_EQ(io::read_table(file.root(), "tables/llc").num_rows(), 10);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(directory)) ++entries;
  EXPECT_EQ(entries, 1u);

  const std::string report = fit_report_markdown(result, study.llc, study.critical, directory / "results.h5");
  EXPECT_NE(report.find("| quant | 0.3 | a | 5 | 0 | 4 ["), std::string::npos) << report;
  EXPECT_NE(report.find("| quant | 0.5 | b | 4 | 1 | 6 ["), std::string::npos) << report;
  EXPECT_NE(report.find("all_within_tolerance"), std::string::npos);

  EXPECT_THROW(write_fits_into_results(directory / "missing.h5", result, options), InputError);
}

// Issue 8: the figure script draws every figure from a small results file.
// Needs python3 with h5py, numpy and matplotlib (Debian's packages; installed
// by scripts/install-deps.sh); skipped where they are missing.
TEST(FitStage, FiguresScriptDrawsEveryFigureFromASmallResultsFile) {
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy, matplotlib' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with h5py, numpy and matplotlib is not installed";
  const Study study = make_study();
  const fs::path directory = write_results_file(study, "fit_stage_figures");
  const FitStageOptions options = quick_options();
  write_fits_into_results(directory / "results.h5", compute_fit_stage(study.llc, study.critical, options), options);
  const std::string command = "/usr/bin/python3 " LLCPRESS_SOURCE_DIR "/analysis/figures.py " + directory.string() +
                              " > " + (directory / "figures.log").string() + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "figures.py failed; see " << directory / "figures.log";
  // check_figures.py: each PNG decodes, is at least 300×300 pixels and is not
  // blank (several hundred distinct colours, ink covering part of the canvas).
  const std::string check = "/usr/bin/python3 " LLCPRESS_SOURCE_DIR "/tests/pipeline/check_figures.py " +
                            (directory / "figures").string() +
                            " llc_vs_critical_quant.png over_steps.png curves_a_quant.png curves_b_quant.png"
                            " bits_predicted_vs_measured.png > " +
                            (directory / "check.log").string() + " 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << std::ifstream(directory / "check.log").rdbuf();
}

// Issue 20: a failed LLC shard (too few healthy chains) has a row in
// /tables/llc with status "failed"; the fit leaves it out and names it.
TEST(FitStage, FailedLlcRowsAreLeftOutAndNamed) {
  Study study = make_study();
  const auto rows = static_cast<std::size_t>(study.llc.num_rows());
  std::vector<std::string> status(rows, "done"), reason(rows, "");
  status[1] = "failed";  // model a, second checkpoint
  reason[1] = "0 of 2 chains healthy (need 2): chain 0: MALA acceptance 0 < 0.1; chain 1: diverged";
  io::Table llc = study.llc;
  llc.add("status", status).add("failure_reason", reason);
  const FitStageResult all = compute_fit_stage(study.llc, study.critical, quick_options());
  const FitStageResult some = compute_fit_stage(llc, study.critical, quick_options());
  ASSERT_EQ(some.skipped_llc.size(), 1u);
  EXPECT_NE(some.skipped_llc[0].find("a step " + std::to_string(study.llc.values<std::int64_t>("step")[1])),
            std::string::npos)
      << some.skipped_llc[0];
  EXPECT_NE(some.skipped_llc[0].find("chain 0: MALA acceptance"), std::string::npos) << some.skipped_llc[0];
  EXPECT_TRUE(all.skipped_llc.empty());
  // Model a loses exactly that checkpoint in every line; model b keeps all of its points.
  EXPECT_EQ(find_row(some, "a", 0.3).points + 1, find_row(all, "a", 0.3).points);
  EXPECT_EQ(find_row(some, "b", 0.3).points, find_row(all, "b", 0.3).points);
  const std::string report = fit_report_markdown(some, llc, study.critical, "results.h5");
  EXPECT_NE(report.find("Left out of every fit"), std::string::npos) << report;
  EXPECT_NE(report.find("FAILED (not used)"), std::string::npos) << report;
}

// Issue 20: figures.py never crashes on NaN λ̂, failed rows or empty tables
// (with ε = 10 every chain diverged and it died with StopIteration).
TEST(FitStage, FiguresScriptSurvivesNanFailedAndEmptyTables) {
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy, matplotlib' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with h5py, numpy and matplotlib is not installed";
  auto run_figures = [](const fs::path& directory) {
    const std::string command = "/usr/bin/python3 " LLCPRESS_SOURCE_DIR "/analysis/figures.py " + directory.string() +
                                " > " + (directory / "figures.log").string() + " 2>&1";
    return std::system(command.c_str());
  };
  auto read_log = [](const fs::path& directory) {
    std::stringstream text;
    text << std::ifstream(directory / "figures.log").rdbuf();
    return text.str();
  };
  {  // every LLC row failed with NaN λ̂ (the ε = 10 job), predicted bits NaN
    Study study = make_study();
    const auto rows = static_cast<std::size_t>(study.llc.num_rows());
    io::Table llc;
    llc.add("model", study.llc.values<std::string>("model"))
        .add("step", study.llc.values<std::int64_t>("step"))
        .add("llc_mean", std::vector<double>(rows, std::nan("")))
        .add("llc_std", std::vector<double>(rows, std::nan("")))
        .add("status", std::vector<std::string>(rows, "failed"))
        .add("failure_reason", std::vector<std::string>(rows, "0 of 2 chains healthy (need 2): chain 0: diverged"));
    study.llc = llc;
    const fs::path directory = write_results_file(study, "figures_all_failed");
    ASSERT_EQ(run_figures(directory), 0) << read_log(directory);
    const std::string log = read_log(directory);
    EXPECT_NE(log.find("left out a step"), std::string::npos) << log;
    EXPECT_NE(log.find("chain 0: diverged"), std::string::npos) << log;
    // The curves need no λ̂ and are still drawn.
    EXPECT_TRUE(fs::exists(directory / "figures/curves_a_quant.png")) << log;
    EXPECT_FALSE(fs::exists(directory / "figures/llc_vs_critical_quant.png")) << log;
  }
  {  // one NaN λ̂ among done rows and a NaN std
    Study study = make_study();
    std::vector<double> mean = study.llc.values<double>("llc_mean"), std_dev = study.llc.values<double>("llc_std");
    mean[2] = std::nan("");
    std_dev[3] = std::nan("");
    io::Table llc;
    llc.add("model", study.llc.values<std::string>("model"))
        .add("step", study.llc.values<std::int64_t>("step"))
        .add("llc_mean", mean)
        .add("llc_std", std_dev);
    study.llc = llc;
    const fs::path directory = write_results_file(study, "figures_nan");
    ASSERT_EQ(run_figures(directory), 0) << read_log(directory);
    EXPECT_NE(read_log(directory).find("λ̂ is not finite"), std::string::npos) << read_log(directory);
    EXPECT_TRUE(fs::exists(directory / "figures/llc_vs_critical_quant.png")) << read_log(directory);
  }
  {  // empty tables: no figure, no error
    Study study = make_study();
    Study empty;
    empty.llc.add("model", std::vector<std::string>{})
        .add("step", std::vector<std::int64_t>{})
        .add("llc_mean", std::vector<double>{})
        .add("llc_std", std::vector<double>{})
        .add("status", std::vector<std::string>{})
        .add("failure_reason", std::vector<std::string>{});
    for (const auto& column : study.critical.columns()) {
      std::visit([&](const auto& values) { empty.critical.add(column.name, std::decay_t<decltype(values)>{}); },
                 column.values);
    }
    for (const auto& column : study.curves.columns()) {
      std::visit([&](const auto& values) { empty.curves.add(column.name, std::decay_t<decltype(values)>{}); },
                 column.values);
    }
    const fs::path directory = write_results_file(empty, "figures_empty");
    ASSERT_EQ(run_figures(directory), 0) << read_log(directory);
    std::size_t pictures = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(directory / "figures")) ++pictures;
    EXPECT_EQ(pictures, 0u) << read_log(directory);
  }
}

}  // namespace
