// Whole sweeps on the synthetic quadratic model, checked against closed
// forms computed here: L(w) = L0 + ½ Σ h (w - w*)², so
//   noise:  the draw-averaged loss increase is σ²·A exactly (common random
//           numbers), A measured once at σ = 1 → σ_c = sqrt(ε/A);
//   svd:    the increase at kept fraction f is ½ h Σ_t Σ_{i ≥ k_t(f)} σ_{t,i}²
//           (Eckart–Young), with singular values from an eigen-solver;
//   quant:  the reported critical level count is a genuine crossing.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>

#include "compress/svd.h"
#include "compress/sweep.h"
#include "core/error.h"
#include "synthetic_model.h"

namespace llcpress::compress {
namespace {

using testing::SyntheticLossModel;

std::vector<std::int64_t> held_out() { return parse_sample_range("10:30"); }

double mean_offset(const std::vector<std::int64_t>& samples) {
  double total = 0;
  for (auto s : samples) total += SyntheticLossModel::offset(s);
  return total / static_cast<double>(samples.size());
}

SweepConfig config_for(const std::string& method, const SyntheticLossModel& model) {
  SweepConfig config;
  config.method = method;
  config.options.num_heads = model.shape().heads;
  config.options.noise_draws = 3;
  return config;
}

TEST(HeldOutLoss, IsTheSampleMeanWhateverTheBatching) {
  SyntheticLossModel model;
  const double expected = mean_offset(held_out());
  for (std::size_t batch : {1u, 4u, 6u, 7u, 100u}) {
    HeldOutLoss loss(model, held_out(), batch);
    EXPECT_LE(loss.batch_size(), model.max_batch_size());
    // Batch means are combined with weights: only rounding (1e-15) differs.
    EXPECT_NEAR(loss.loss(), expected, 1e-12) << "batch " << batch;
  }
  EXPECT_THROW(HeldOutLoss(model, {0, 40}, 4), InputError);  // 40 samples: 0..39
  EXPECT_THROW(HeldOutLoss(model, {}, 4), ConfigError);
  EXPECT_THROW(HeldOutLoss(model, {1}, 0), ConfigError);
}

TEST(HeldOutLoss, PutsTheReferenceBack) {
  SyntheticLossModel model;
  {
    HeldOutLoss loss(model, held_out(), 4);
    for (float& w : loss.working()) w = 1.0f;
    EXPECT_GT(loss.loss(), 3.0);
  }
  EXPECT_EQ(std::vector<float>(model.parameters().begin(), model.parameters().end()), model.reference());
}

TEST(Sweep, NoiseCriticalSigmaMatchesTheClosedForm) {
  SyntheticLossModel model;
  SweepConfig config = config_for("noise-rel", model);
  // A = mean over draws of the loss increase at σ = 1 (the quadratic scales by σ²).
  auto method = make_method("noise-rel", config.options);
  method->prepare(model.parameter_table(), model.reference());
  std::vector<float> out(model.reference().size());
  double a = 0;
  for (int draw = 0; draw < config.options.noise_draws; ++draw) {
    method->apply(out, model.reference(), 1.0, draw);
    a += model.penalty(out) / config.options.noise_draws;
  }
  SweepResult result = run_sweep(model, config, held_out(), 8);
  EXPECT_NEAR(result.reference_loss, mean_offset(held_out()), 1e-12);
  ASSERT_EQ(result.criticals.size(), 3u);
  for (const CriticalSummary& summary : result.criticals) {
    const double exact = std::sqrt(summary.search.epsilon / a);
    ASSERT_EQ(summary.search.status, CriticalStatus::Found);
    // Float rounding of w + σ·rms·ξ perturbs the increase by ~1e-6 relative.
    EXPECT_LE(summary.search.critical, exact * (1 + 1e-5)) << summary.search.epsilon;
    EXPECT_GE(summary.search.first_failing, exact * (1 - 1e-5));
    EXPECT_LE(std::log2(summary.search.first_failing / summary.search.critical), result.axis.resolution + 1e-12);
  }
  // Every point's loss is L0 + σ²A, and the points carry their draws.
  for (const EvaluatedPoint& point : result.points) {
    EXPECT_NEAR(point.loss - result.reference_loss, point.parameter * point.parameter * a, 1e-5 * (1 + point.loss));
    EXPECT_EQ(point.draw_losses.size(), 3u);
    EXPECT_EQ(point.loss_evaluations, 3);
  }
  EXPECT_EQ(result.loss_evaluations, 1 + 3 * static_cast<int>(result.points.size()));
  EXPECT_EQ(std::vector<float>(model.parameters().begin(), model.parameters().end()), model.reference());
}

TEST(Sweep, SvdLossFollowsEckartYoung) {
  SyntheticLossModel model;
  SweepConfig config = config_for("svd", model);
  config.epsilons = {0.02, 0.05};
  SweepResult result = run_sweep(model, config, held_out(), 8);
  // Independent singular values of each linear matrix (eigenvalues of the Gram matrix).
  std::vector<std::vector<double>> sigmas;
  for (const ParameterView& view : model.parameter_table().views()) {
    if (view.role != TensorRole::Linear) continue;
    Eigen::MatrixXd m = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                            model.reference().data() + view.offset, view.rows(), view.cols())
                            .cast<double>();
    Eigen::MatrixXd gram =
        view.rows() >= view.cols() ? Eigen::MatrixXd(m.transpose() * m) : Eigen::MatrixXd(m * m.transpose());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(gram);
    std::vector<double> values;
    for (int i = static_cast<int>(gram.rows()) - 1; i >= 0; --i)
      values.push_back(std::max(0.0, eigen.eigenvalues()[i]));
    sigmas.push_back(values);  // σ² in descending order
  }
  const double curvature = SyntheticLossModel::curvature_of(TensorRole::Linear);
  for (const EvaluatedPoint& point : result.points) {
    double increase = 0;
    for (const auto& squares : sigmas) {
      std::int64_t keep = kept_rank(point.parameter, static_cast<std::int64_t>(squares.size()));
      for (std::size_t i = keep; i < squares.size(); ++i) increase += 0.5 * curvature * squares[i];
    }
    // Float factors: relative error ~1e-6 of the matrix norm per entry.
    EXPECT_NEAR(point.loss - result.reference_loss, increase, 1e-4 * (1 + increase)) << point.parameter;
  }
  for (const CriticalSummary& summary : result.criticals) {
    ASSERT_EQ(summary.search.status, CriticalStatus::Found);
    EXPECT_LE(result.points.front().parameter, summary.search.critical);
    EXPECT_LE(summary.search.critical - summary.search.first_failing, result.axis.resolution + 1e-12);
  }
}

TEST(Sweep, QuantCriticalIsAGenuineCrossing) {
  SyntheticLossModel model;
  for (const char* name : {"quant-maxabs", "quant"}) {
    SweepConfig config = config_for(name, model);
    config.epsilons = {0.01, 0.03};
    config.llc = 123.0;
    SweepResult result = run_sweep(model, config, held_out(), 8);
    auto method = make_method(name, config.options);
    method->prepare(model.parameter_table(), model.reference());
    for (const CriticalSummary& summary : result.criticals) {
      ASSERT_EQ(summary.search.status, CriticalStatus::Found) << name;
      const double n = summary.search.critical;
      EXPECT_EQ(summary.search.first_failing, n - 1);
      EXPECT_DOUBLE_EQ(summary.critical_bits, std::log2(n));
      EXPECT_DOUBLE_EQ(summary.predicted_bits, 123.0 / static_cast<double>(model.parameter_table().total_size()) *
                                                   std::log2(1 / summary.search.epsilon));
      // Recompute the two neighbouring points with a fresh method (the
      // quant points are minima over clip trials; their maxabs/MSE-clip
      // losses bound them from above).
      std::vector<float> out(model.reference().size());
      method->apply(out, model.reference(), n);
      const double at_critical = model.penalty(out);
      const EvaluatedPoint* below = nullptr;
      for (const EvaluatedPoint& point : result.points)
        if (point.parameter == n - 1) below = &point;
      ASSERT_NE(below, nullptr);
      EXPECT_GT(below->loss - result.reference_loss, summary.search.epsilon);
      const EvaluatedPoint* at = nullptr;
      for (const EvaluatedPoint& point : result.points)
        if (point.parameter == n) at = &point;
      ASSERT_NE(at, nullptr);
      EXPECT_LE(at->loss, summary.search.threshold);
      if (std::string(name) == "quant-maxabs") {
        // Deterministic: the sweep's point is the penalty recomputed here.
        EXPECT_NEAR(at->loss - result.reference_loss, at_critical, 1e-9);
      } else {
        // quant's point is the best clip trial; the MSE clip is trial 1.
        EXPECT_LE(at->loss - result.reference_loss, at_critical + 1e-9);
      }
    }
    // quant: every point is the minimum of its clip trials, which start at the MSE clip.
    for (const EvaluatedPoint& point : result.points) {
      if (std::string(name) != "quant") break;
      ASSERT_EQ(point.clip_trials.size(), static_cast<std::size_t>(config.options.clip_search_evaluations));
      EXPECT_EQ(point.clip_trials.front().clip_scale, 1.0);
      double best = INFINITY;
      for (const ClipTrial& trial : point.clip_trials) best = std::min(best, trial.loss);
      EXPECT_EQ(point.loss, best);
    }
  }
}

TEST(Sweep, LossSearchedClipIsNeverWorseThanMaxAbs) {
  // The MSE clip search starts from max|w| and never returns a worse clip,
  // and the loss search starts from the MSE clip; on this model the loss is
  // a weighted sum of per-tensor MSEs, so quant beats quant-maxabs pointwise.
  SyntheticLossModel model;
  SweepConfig maxabs = config_for("quant-maxabs", model);
  SweepResult reference = run_sweep(model, maxabs, held_out(), 8);
  auto quant = make_method("quant", maxabs.options);
  quant->prepare(model.parameter_table(), model.reference());
  HeldOutLoss oracle(model, held_out(), 8);
  for (const EvaluatedPoint& point : reference.points) {
    EvaluatedPoint searched = quant->evaluate(point.parameter, oracle);
    EXPECT_LE(searched.loss, point.loss * (1 + 1e-12)) << point.parameter;
  }
}

TEST(Sweep, JsonCarriesTheCurveAndTheCriticals) {
  SyntheticLossModel model;
  SweepConfig config = config_for("prune", model);
  config.llc = 50;
  SweepResult result = run_sweep(model, config, held_out(), 8);
  nlohmann::json json = to_json(result);
  EXPECT_EQ(json["method"]["name"], "prune");
  EXPECT_EQ(json["method"]["more_compression"], "larger");
  EXPECT_EQ(json["points"].size(), result.points.size());
  EXPECT_EQ(json["criticals"].size(), 3u);
  EXPECT_EQ(json["held_out"]["count"], 20);
  EXPECT_EQ(json["config"]["tensors"], "linear");
  EXPECT_TRUE(json["criticals"][0]["predicted_bits"].is_number());
  for (std::size_t i = 1; i < result.points.size(); ++i)
    EXPECT_LT(result.points[i - 1].parameter, result.points[i].parameter);
  EXPECT_NE(format_criticals(result).find("found"), std::string::npos);
}

}  // namespace
}  // namespace llcpress::compress
