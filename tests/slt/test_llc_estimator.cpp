// The estimator's mechanics: what a draw is, L_init, reproducibility,
// divergence handling, masks, defaults.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>

#include "core/error.h"
#include "slt/llc_estimator.h"
#include "slt/minibatch.h"
#include "slt/reference_models/monomial.h"
#include "slt/reference_models/reduced_rank_regression.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {

// Forwards to a model and records every loss_and_grad call; `hook` may
// inspect the parameters or replace the loss.
class RecordingModel : public LossModel {
 public:
  explicit RecordingModel(LossModel& inner) : inner_(inner) {}
  std::span<float> parameters() override { return inner_.parameters(); }
  const ParameterTable& parameter_table() const override { return inner_.parameter_table(); }
  std::size_t num_samples() const override { return inner_.num_samples(); }
  std::size_t max_batch_size() const override { return inner_.max_batch_size(); }
  double loss(Batch batch) override { return inner_.loss(batch); }
  double loss_and_grad(Batch batch, std::span<float> gradient) override {
    double l = inner_.loss_and_grad(batch, gradient);
    if (hook) l = hook(calls.size(), l);
    calls.push_back({std::vector<std::int64_t>(batch.samples.begin(), batch.samples.end()), l});
    return l;
  }
  struct Call {
    std::vector<std::int64_t> batch;
    double loss;
  };
  std::vector<Call> calls;
  std::function<double(std::size_t call, double loss)> hook;

 private:
  LossModel& inner_;
};

RrrOptions small_rrr() {
  RrrOptions o;
  o.input_dim = 3, o.hidden_dim = 2, o.output_dim = 2, o.rank = 1;
  o.samples = 200;
  o.noise_std = 0.1;
  return o;
}

LlcConfig small_config() {
  LlcConfig c;
  c.sampler.epsilon = 1e-4;
  c.sampler.nbeta = 50;
  c.sampler.localization = 10;
  c.chains = 3;
  c.burn_in = 5;
  c.draws = 7;
  c.steps_between_draws = 3;
  c.batch_size = 8;
  c.init_batches = 4;
  c.seed = 42;
  c.progress = false;
  return c;
}

}  // namespace

TEST(LlcEstimator, DrawsAreLossesBeforeEachUpdateOnThatStepsBatch) {
  ReducedRankRegressionModel inner(small_rrr());
  RecordingModel model(inner);
  const LlcConfig config = small_config();
  const LlcResult r = estimate_llc(model, config);
  const int steps = config.steps();
  // steps_between_draws > 1: the step after the last draw exists, so no extra
  // gradient is needed to close its MALA transition.
  ASSERT_EQ(model.calls.size(), std::size_t(config.chains * steps));
  MinibatchSampler batches({0, 200}, config.batch_size);
  std::vector<std::int64_t> expected_batch;
  for (int c = 0; c < config.chains; ++c) {
    const auto& chain = r.chains[c];
    ASSERT_EQ(chain.draw_loss.size(), std::size_t(config.draws));
    ASSERT_EQ(chain.step_loss.size(), std::size_t(steps));
    for (int step = 0; step < steps; ++step) {
      const auto& call = model.calls[c * steps + step];
      batches.draw(config.seed, batch_stream(config, c, step), expected_batch);
      EXPECT_EQ(call.batch, expected_batch);
      EXPECT_EQ(chain.step_loss[step], call.loss);
    }
    for (int d = 0; d < config.draws; ++d)
      EXPECT_EQ(chain.draw_loss[d], chain.step_loss[config.burn_in + d * config.steps_between_draws]);
    // The first draw after a burn-in is not at w*; with no burn-in it would be.
    double mean = 0;
    for (double v : chain.draw_loss) mean += v;
    mean /= config.draws;
    EXPECT_DOUBLE_EQ(chain.llc, config.sampler.nbeta * (mean - r.init_loss));
    for (double a : chain.mala_acceptance) EXPECT_TRUE(a >= 0 && a <= 1) << a;
  }
}

TEST(LlcEstimator, InitLossIsTheMeanOverFixedBatchesAtTheCheckpoint) {
  ReducedRankRegressionModel model(small_rrr());
  const LlcConfig config = small_config();
  const LlcResult r = estimate_llc(model, config);
  ASSERT_EQ(r.init_batch_losses.size(), std::size_t(config.init_batches));
  MinibatchSampler batches({0, 200}, config.batch_size);
  std::vector<std::int64_t> indices;
  double mean = 0;
  for (int b = 0; b < config.init_batches; ++b) {
    batches.draw(config.seed, init_batch_stream(config, b), indices);
    EXPECT_EQ(r.init_batch_losses[b], model.loss(Batch{indices}));  // parameters are back at w*
    mean += r.init_batch_losses[b];
  }
  EXPECT_DOUBLE_EQ(r.init_loss, mean / config.init_batches);
  // The batches differ, so L_init really averages several of them.
  EXPECT_NE(r.init_batch_losses[0], r.init_batch_losses[1]);
}

TEST(LlcEstimator, ChainsAreReproducibleBitForBit) {
  for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
    LlcConfig config = small_config();
    config.sampler.kind = kind;
    ReducedRankRegressionModel a(small_rrr()), b(small_rrr());
    const LlcResult ra = estimate_llc(a, config), rb = estimate_llc(b, config);
    for (int c = 0; c < config.chains; ++c) {
      EXPECT_EQ(ra.chains[c].step_loss, rb.chains[c].step_loss);
      EXPECT_EQ(ra.chains[c].distance, rb.chains[c].distance);
      EXPECT_EQ(ra.chains[c].mala_log_ratio, rb.chains[c].mala_log_ratio);
    }
    // Chains differ from one another (own noise and batches).
    EXPECT_NE(ra.chains[0].step_loss, ra.chains[1].step_loss);
    // Another seed gives another chain.
    config.seed = 43;
    ReducedRankRegressionModel c(small_rrr());
    EXPECT_NE(estimate_llc(c, config).chains[0].step_loss, ra.chains[0].step_loss);
  }
}

// Large enough for several reduction chunks, so the OpenMP split differs
// between 1 and 3 threads; the chain must not.
TEST(LlcEstimator, ChainDoesNotDependOnTheThreadCount) {
  MonomialOptions o;
  o.powers.assign(40000, 2);
  o.powers[5] = 4;
  LlcConfig config = small_config();
  config.sampler.nbeta = 10;
  config.chains = 1;
  std::vector<double> traces[2];
  const int saved = omp_get_max_threads();
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t == 0 ? 1 : 3);
    MonomialModel model(o);
    const LlcResult r = estimate_llc(model, config);
    traces[t] = r.chains[0].step_loss;
    traces[t].insert(traces[t].end(), r.chains[0].distance.begin(), r.chains[0].distance.end());
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(traces[0], traces[1]);
}

TEST(LlcEstimator, SharedBatchesGiveEveryChainTheSameBatches) {
  ReducedRankRegressionModel inner(small_rrr());
  RecordingModel model(inner);
  LlcConfig config = small_config();
  config.shared_batches = true;
  const LlcResult r = estimate_llc(model, config);
  const std::size_t per_chain = config.steps();
  for (std::size_t s = 0; s < per_chain; ++s) EXPECT_EQ(model.calls[s].batch, model.calls[per_chain + s].batch);
  EXPECT_NE(r.chains[0].step_loss, r.chains[1].step_loss);  // the noise still differs
}

// A chain whose loss turns NaN is stopped at that step, marked, reported and
// left out of the mean; the others are averaged as usual.
TEST(LlcEstimator, DivergedChainIsStoppedMarkedAndExcluded) {
  ReducedRankRegressionModel inner(small_rrr());
  RecordingModel model(inner);
  LlcConfig config = small_config();
  const std::size_t per_chain = config.steps();
  const std::size_t poisoned = per_chain + 9;  // chain 1, step 9
  model.hook = [&](std::size_t call, double loss) {
    return call == poisoned ? std::numeric_limits<double>::quiet_NaN() : loss;
  };
  const LlcResult r = estimate_llc(model, config);
  ASSERT_EQ(r.chains.size(), 3u);
  EXPECT_FALSE(r.chains[0].diverged);
  EXPECT_TRUE(r.chains[1].diverged);
  EXPECT_FALSE(r.chains[2].diverged);
  EXPECT_EQ(r.chains[1].diverged_at_step, 9);
  EXPECT_EQ(r.chains[1].steps_run, 10);
  EXPECT_NE(r.chains[1].divergence_reason.find("nan"), std::string::npos) << r.chains[1].divergence_reason;
  EXPECT_TRUE(std::isnan(r.chains[1].llc));
  EXPECT_EQ(r.chains_diverged, 1);
  EXPECT_EQ(r.chains_used, 2);
  EXPECT_DOUBLE_EQ(r.llc_mean, 0.5 * (r.chains[0].llc + r.chains[2].llc));
  EXPECT_DOUBLE_EQ(r.llc_std, std::abs(r.chains[0].llc - r.chains[2].llc) / std::sqrt(2.0));
  // Parameters are back at w* afterwards.
  ReducedRankRegressionModel fresh(small_rrr());
  EXPECT_TRUE(std::equal(inner.parameters().begin(), inner.parameters().end(), fresh.parameters().begin()));
}

// A real instability: ε·h = 10 on K = ½w², far past SGLD's stability limit
// (ε·h < 4): |w| grows by |1 − εh/2| = 4 per step until it overflows.
TEST(LlcEstimator, UnstableStepSizeDivergesEveryChain) {
  MonomialOptions o;
  o.powers = {2, 2};
  MonomialModel model(o);
  LlcConfig config = small_config();
  config.sampler.nbeta = 1000;
  config.sampler.localization = 0;
  config.sampler.epsilon = 1e-2;
  config.draws = 200;
  const LlcResult r = estimate_llc(model, config);
  EXPECT_EQ(r.chains_diverged, config.chains);
  EXPECT_EQ(r.chains_used, 0);
  EXPECT_TRUE(std::isnan(r.llc_mean));
  for (const auto& chain : r.chains) {
    EXPECT_TRUE(chain.diverged);
    EXPECT_LT(chain.steps_run, config.steps());
  }
}

TEST(LlcEstimator, MaskedOutParametersStayAtTheCheckpointThroughout) {
  ReducedRankRegressionModel inner(small_rrr());
  const std::vector<float> start(inner.parameters().begin(), inner.parameters().end());
  const auto& second = inner.parameter_table().at("layer2.weight");
  RecordingModel model(inner);
  bool masked_changed = false, sampled_moved = false;
  model.hook = [&](std::size_t, double loss) {
    auto w = inner.parameters();
    for (std::size_t i = 0; i < w.size(); ++i) {
      const bool sampled = i >= second.offset && i < second.offset + second.size;
      if (!sampled && w[i] != start[i]) masked_changed = true;
      if (sampled && w[i] != start[i]) sampled_moved = true;
    }
    return loss;
  };
  LlcConfig config = small_config();
  config.mask = {"layer2.*"};
  const LlcResult r = estimate_llc(model, config);
  EXPECT_FALSE(masked_changed);
  EXPECT_TRUE(sampled_moved);
  EXPECT_EQ(r.sampled_parameters, second.size);
  EXPECT_EQ(r.sampled_tensors, std::vector<std::string>{"layer2.weight"});
  // The sampler keeps the MALA displacement for the sampled elements only;
  // w* is the model's one copy (LossModel::reference), not the sampler's.
  EXPECT_EQ(r.sampler_state_bytes, sizeof(float) * second.size);
}

TEST(LlcEstimator, DefaultsAndValidation) {
  EXPECT_DOUBLE_EQ(default_nbeta(16), 16 / std::log(16.0));
  EXPECT_DOUBLE_EQ(default_nbeta(1), 1.0);
  ReducedRankRegressionModel model(small_rrr());
  LlcConfig config = small_config();
  config.sampler.nbeta = 0;
  const LlcResult r = estimate_llc(model, config);
  EXPECT_TRUE(r.nbeta_is_default);
  EXPECT_DOUBLE_EQ(r.config.sampler.nbeta, default_nbeta(config.batch_size));
  config.samples = SampleRange{150, 260};
  EXPECT_THROW(estimate_llc(model, config), ConfigError);
  config.samples.reset();
  config.draws = 0;
  EXPECT_THROW(estimate_llc(model, config), ConfigError);
}
