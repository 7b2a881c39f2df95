#include <gtest/gtest.h>

#include <filesystem>

#include "io/hdf5.h"
#include "slt/llc_output.h"
#include "slt/reference_models/reduced_rank_regression.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {
LlcResult small_result() {
  RrrOptions o;
  o.input_dim = 2, o.hidden_dim = 2, o.output_dim = 2, o.rank = 1, o.samples = 64;
  ReducedRankRegressionModel model(o);
  LlcConfig c;
  c.sampler.epsilon = 1e-4, c.sampler.nbeta = 20, c.sampler.localization = 10;
  c.chains = 2, c.burn_in = 3, c.draws = 5, c.batch_size = 8, c.init_batches = 2, c.progress = false;
  return estimate_llc(model, c);
}
}  // namespace

TEST(LlcOutput, Hdf5RoundTripCarriesValuesUnitsAndTraces) {
  const LlcResult r = small_result();
  const auto path = std::filesystem::temp_directory_path() / "llcpress_test_llc_output.h5";
  {
    io::File file = io::File::create(path);
    io::Group group = file.root().require_group("llc");
    write_llc(group, r);
    file.close();
  }
  {
    io::File file = io::File::open_read_only(path);
    const io::Group group = file.root().open_group("llc");
    EXPECT_DOUBLE_EQ(group.read_vector<double>("llc_mean")[0], r.llc_mean);
    EXPECT_EQ(group.open_dataset("llc_mean").attribute<std::string>("units"), "1");
    EXPECT_EQ(group.open_dataset("init_loss").attribute<std::string>("units"), "nats");
    const auto draws = group.read<double>("traces/draw_loss");
    ASSERT_EQ(draws.shape, (io::Shape{2, 5}));
    EXPECT_EQ(draws.values[5 + 4], r.chains[1].draw_loss[4]);
    const auto steps = group.read<double>("traces/step_loss");
    EXPECT_EQ(steps.shape, (io::Shape{2, 8}));
    const io::Table table = io::read_table(group, "chains");
    EXPECT_EQ(table.values<double>("llc")[1], r.chains[1].llc);
    for (const char* name : {"distance", "gradient_norm", "noise_norm", "mala_acceptance"})
      EXPECT_FALSE(group.open_dataset(std::string("traces/") + name).attribute<std::string>("description").empty());
    const auto config = nlohmann::json::parse(group.attribute<std::string>("llc_config_json"));
    EXPECT_EQ(config["draws"], 5);
    EXPECT_EQ(config["sampler"], "sgld");
  }
  EXPECT_EQ(io::open_hdf5_object_count(), 0);
  std::filesystem::remove(path);
}

TEST(LlcOutput, JsonHasNullForDivergedValuesAndTheTraces) {
  LlcResult r = small_result();
  r.chains[1].diverged = true;
  r.chains[1].llc = std::numeric_limits<double>::quiet_NaN();
  const auto j = to_json(r, true);
  EXPECT_TRUE(j["chains"][1]["llc"].is_null());
  EXPECT_EQ(j["chains"][0]["draw_loss"].size(), 5u);
  EXPECT_EQ(j["config"]["chains"], 2);
  EXPECT_FALSE(format_llc(r).empty());
}
