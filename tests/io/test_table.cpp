#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <ctime>
#include <regex>

#include "core/error.h"
#include "core/version.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "io/schema.h"
#include "scratch_directory.h"

using namespace llcpress;
using namespace llcpress::io;
using llcpress::io::testing::ScratchDirectory;

namespace {

Table sample_table() {
  Table table;
  table.add("model", std::vector<std::string>{"pythia-70m", "pythia-70m", "pythia-160m"}, "", "model name")
      .add("step", std::vector<std::int64_t>{1000, 143000, 143000}, "steps", "training step")
      .add("eps", std::vector<double>{0.01, 0.01, 0.1}, "nats", "loss tolerance")
      .add("critical_amount", std::vector<float>{0.25f, 0.5f, 0.75f}, "1", "critical compression fraction")
      .add("bits", std::vector<std::int32_t>{4, 3, -1}, "bits", "quantization bits")
      .add("converged", std::vector<std::uint8_t>{1, 0, 1}, "1", "search converged");
  return table;
}

}  // namespace

TEST(Table, AddChecksNamesAndLengths) {
  Table table;
  table.add("a", std::vector<double>{1, 2});
  EXPECT_THROW(table.add("b", std::vector<double>{1}), InputError);
  EXPECT_THROW(table.add("a", std::vector<double>{1, 2}), InputError);
  EXPECT_THROW(table.add("x/y", std::vector<double>{1, 2}), InputError);
  EXPECT_THROW(table.add("", std::vector<double>{1, 2}), InputError);
  EXPECT_EQ(table.num_rows(), 2);
  EXPECT_EQ(table.values<double>("a"), (std::vector<double>{1, 2}));
  EXPECT_THROW(table.values<float>("a"), InputError);
  EXPECT_THROW(table.column("missing"), InputError);
}

TEST_F(ScratchDirectory, TableRoundTrip) {
  const Table written = sample_table();
  {
    File file = File::create(path("table.h5"));
    write_table(file.root(), "summary/by_checkpoint", written, "one row per checkpoint and method");
    write_table(file.root(), "empty_rows", Table().add("x", std::vector<double>{}, "nats"));
    write_table(file.root(), "no_columns", Table());
  }
  File file = File::open_read_only(path("table.h5"));
  const Table table = read_table(file.root(), "summary/by_checkpoint");
  ASSERT_EQ(table.columns().size(), written.columns().size());
  for (std::size_t i = 0; i < written.columns().size(); ++i) {
    const Column& expected = written.columns()[i];
    const Column& actual = table.columns()[i];
    EXPECT_EQ(actual.name, expected.name);  // order preserved
    EXPECT_EQ(actual.units, expected.units);
    EXPECT_EQ(actual.description, expected.description);
    EXPECT_EQ(actual.values, expected.values) << actual.name;
  }
  EXPECT_EQ(table.num_rows(), 3);
  EXPECT_EQ(table.values<std::string>("model")[2], "pythia-160m");
  EXPECT_EQ(table.column_map().at("step"), ColumnValues(std::vector<std::int64_t>{1000, 143000, 143000}));

  Group group = file.root().open_group("summary/by_checkpoint");
  EXPECT_EQ(group.attribute<std::string>("layout"), "table");
  EXPECT_EQ(group.attribute<std::vector<std::string>>("columns"),
            (std::vector<std::string>{"model", "step", "eps", "critical_amount", "bits", "converged"}));
  EXPECT_EQ(group.attribute<std::vector<std::string>>("column_units"),
            (std::vector<std::string>{"", "steps", "nats", "1", "bits", "1"}));
  EXPECT_EQ(group.attribute<std::int64_t>("num_rows"), 3);
  EXPECT_EQ(group.attribute<std::string>("description"), "one row per checkpoint and method");

  EXPECT_EQ(read_table(file.root(), "empty_rows").num_rows(), 0);
  EXPECT_EQ(read_table(file.root(), "empty_rows").columns().at(0).units, "nats");
  EXPECT_TRUE(read_table(file.root(), "no_columns").columns().empty());
}

TEST_F(ScratchDirectory, ReadTableRejectsBrokenTables) {
  {
    File file = File::create(path("broken.h5"));
    file.root().create_group("plain");
    Group unequal = file.root().create_group("unequal");
    unequal.write<double>("a", std::vector<double>{1, 2});
    unequal.write<double>("b", std::vector<double>{1});
    unequal.set_attribute("columns", std::vector<std::string>{"a", "b"});
    Group listed = file.root().create_group("listed_only");
    listed.set_attribute("columns", std::vector<std::string>{"ghost"});
    Group rows = file.root().create_group("wrong_rows");
    rows.write<double>("a", std::vector<double>{1, 2});
    rows.set_attribute("columns", std::vector<std::string>{"a"});
    rows.set_attribute("num_rows", 5);
  }
  File file = File::open_read_only(path("broken.h5"));
  for (const char* name : {"plain", "unequal", "listed_only", "wrong_rows", "absent"}) {
    SCOPED_TRACE(name);
    EXPECT_THROW(read_table(file.root(), name), IoError);
  }
}

TEST_F(ScratchDirectory, ProvenanceAndSchemaVersion) {
  const std::string config = "{\n  \"llc\": {\"epsilon\": 0.001, \"note\": \"λ̂\"}\n}";
  const auto before = std::chrono::system_clock::now();
  {
    File file = File::create_atomic(path("provenance.h5"));
    write_provenance(file.root(), config);
    file.commit();
  }
  File file = File::open_read_only(path("provenance.h5"));
  const Provenance provenance = read_provenance(file.root());
  EXPECT_EQ(provenance.schema_version, schema_version);
  EXPECT_EQ(provenance.git_revision, git_revision());
  EXPECT_EQ(provenance.llcpress_version, version_string());
  char host[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(provenance.host, host);
  EXPECT_EQ(provenance.config_json, config);
  EXPECT_EQ(provenance.gemm_library, std::string(gemm_library()));
  EXPECT_FALSE(provenance.gemm_library.empty());
  EXPECT_EQ(provenance.compute_device, "cpu");  // nothing selected a GPU in this process
  ASSERT_TRUE(std::regex_match(provenance.created_utc, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << provenance.created_utc;
  // The timestamp is UTC and lies within the test's run (second resolution).
  std::tm utc{};
  ASSERT_NE(strptime(provenance.created_utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc), nullptr);
  const auto stamped = std::chrono::system_clock::from_time_t(timegm(&utc));
  EXPECT_GE(stamped, std::chrono::floor<std::chrono::seconds>(before));
  EXPECT_LE(stamped, std::chrono::system_clock::now());
  EXPECT_EQ(check_schema_version(file.root()), schema_version);
}

TEST_F(ScratchDirectory, SchemaVersionRefusesUnknownFiles) {
  File file = File::create(path("versions.h5"));
  Group none = file.root().create_group("none");
  EXPECT_THROW(check_schema_version(none), IoError);
  Group newer = file.root().create_group("newer");
  newer.set_attribute(attribute_name::schema_version, schema_version + 1);
  try {
    check_schema_version(newer);
    FAIL();
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find("not understood by this build"), std::string::npos) << error.what();
  }
  EXPECT_THROW(read_provenance(none), IoError);
}
