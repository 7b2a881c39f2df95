// The report behind `llcpress inspect`: checkpoints and token datasets read
// from the committed fixtures, with values and counts the Python side wrote.
#include <gtest/gtest.h>

#include "formats/inspect.h"
#include "formats_test_util.h"

namespace llcpress::formats {
namespace {

using testing::expect_error;
using testing::fixture;

TEST(Inspect, CheckpointReport) {
  const auto expected = testing::load_json(fixture("neox_tiny_expected.json"));
  InspectOptions options;
  options.values = 3;
  const auto report = inspect_path(fixture("neox_tiny_sharded"), options);
  EXPECT_EQ(report["kind"], "checkpoint");
  EXPECT_EQ(report["format"], "safetensors (sharded)");
  EXPECT_EQ(report["files"].size(), 4u);
  EXPECT_EQ(report["total_parameters"], expected["total_parameters"]);
  EXPECT_EQ(report["content_hash"], expected["content_hash"]);
  EXPECT_EQ(report["config"]["hidden_size"], 32);
  EXPECT_EQ(report["config_resolved"]["rotary_pct"], 0.5);
  ASSERT_EQ(report["tensors"].size(), expected["tensors"].size());
  for (const auto& tensor : report["tensors"]) {
    const auto& want = expected["tensors"][tensor["name"].get<std::string>()];
    EXPECT_EQ(tensor["dtype"], want["dtype"]);
    EXPECT_EQ(tensor["shape"], want["shape"]);
    ASSERT_EQ(tensor["values"].size(), 3u);
    for (std::size_t k = 0; k < 3; ++k)
      EXPECT_EQ(tensor["values"][k].get<double>(), want["first_values"][k].get<double>()) << tensor["name"];
  }
  // The JSON text parses back to the same report.
  EXPECT_EQ(nlohmann::json::parse(report.dump()), report);
  const std::string table = format_inspect_report(report);
  for (const char* fragment : {"safetensors (sharded)", "29,568", "sha256:", "gpt_neox.embed_in.weight", "[64, 32]",
                               "values:", "hidden 32, layers 2, heads 4"})
    EXPECT_NE(table.find(fragment), std::string::npos) << fragment << "\n" << table;
}

TEST(Inspect, SpecialValuesAreStrings) {
  InspectOptions options;
  options.values = 12;
  const auto report = inspect_path(fixture("st_dtypes.safetensors"), options);
  EXPECT_FALSE(report["config"].is_null() && report.contains("config_resolved"));
  for (const auto& tensor : report["tensors"]) {
    if (tensor["name"] != "f32.specials") continue;
    EXPECT_EQ(tensor["values"][2], "inf");
    EXPECT_EQ(tensor["values"][3], "-inf");
    EXPECT_EQ(tensor["values"][4], "nan");
    return;
  }
  FAIL() << "f32.specials not in report";
}

TEST(Inspect, DatasetReportFromEveryPathSpelling) {
  const auto expected = testing::load_json(fixture("megatron_expected.json"))["megatron_uint16"];
  for (const std::string suffix : {"", ".idx", ".bin"}) {
    InspectOptions options;
    options.values = 2;
    const auto report = inspect_path(fixture("megatron_uint16") + suffix, options);
    EXPECT_EQ(report["kind"], "token_dataset");
    EXPECT_EQ(report["dtype"], "U16");
    EXPECT_EQ(report["dtype_code"], 8);
    EXPECT_EQ(report["num_sequences"], 5);
    EXPECT_EQ(report["num_documents"], 3);
    EXPECT_EQ(report["total_tokens"], 32);
    EXPECT_EQ(report["sequence_length"]["min"], 0);
    EXPECT_EQ(report["sequence_length"]["max"], 17);
    EXPECT_EQ(report["token_range"]["min"], expected["token_range"][0]);
    EXPECT_EQ(report["token_range"]["max"], expected["token_range"][1]);
    EXPECT_TRUE(report["token_range"]["complete"].get<bool>());
    EXPECT_EQ(report["first_tokens"][0]["tokens"][1], expected["sequences"][0][1]);
    EXPECT_TRUE(report["first_tokens"][1]["tokens"].empty());
  }
  InspectOptions partial;
  partial.scan_sequences = 2;
  const auto report = inspect_path(fixture("megatron_uint16"), partial);
  EXPECT_EQ(report["token_range"]["scanned_sequences"], 2);
  EXPECT_FALSE(report["token_range"]["complete"].get<bool>());
  EXPECT_NE(format_inspect_report(report).find("first 2 sequences"), std::string::npos);
}

TEST(Inspect, MissingPath) {
  expect_error<IoError>([] { inspect_path(fixture("no_such_thing")); },
                        {"no_such_thing", "no such file, directory or dataset prefix"});
}

}  // namespace
}  // namespace llcpress::formats
