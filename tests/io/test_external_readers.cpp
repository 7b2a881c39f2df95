// Files we write must read correctly in h5py, and files written by h5py must
// read correctly here. Uses Debian's /usr/bin/python3 (which has h5py); skips
// when it is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "scratch_directory.h"

using namespace llcpress;
using namespace llcpress::io;
using llcpress::io::testing::ScratchDirectory;

namespace {

const char* kPython = "/usr/bin/python3";

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

CommandResult run_command(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, read);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool h5py_available() {
  static const bool available = run_command(std::string(kPython) + " -c 'import h5py, numpy'").exit_code == 0;
  return available;
}

std::string script(const char* name) { return std::string(LLCPRESS_SOURCE_DIR) + "/tests/io/" + name; }

}  // namespace

TEST_F(ScratchDirectory, H5pyReadsWhatWeWrite) {
  if (!h5py_available()) GTEST_SKIP() << kPython << " cannot import h5py";
  const auto file_path = path("ours.h5");
  {
    File file = File::create_atomic(file_path);
    Group arrays = file.root().create_group("arrays");
    std::vector<float> float32(12);
    for (int i = 0; i < 12; ++i) float32[i] = static_cast<float>(i * 0.25 - 1.5);
    arrays.write<float>("float32_2d", float32, Shape{3, 4}, {.units = "nats", .description = "a float32 matrix"});
    std::vector<double> float64(24);
    for (int i = 0; i < 24; ++i) float64[i] = i * 0.5 - 3;
    arrays.write<double>("float64_3d", float64, Shape{2, 3, 4});
    arrays.write<std::int32_t>("int32_1d", std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::min(),
                                                                     std::numeric_limits<std::int32_t>::max(), 0, 7});
    arrays.write<std::int64_t>("int64_1d", std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(),
                                                                     std::numeric_limits<std::int64_t>::max(), 0, -5});
    arrays.write<std::uint8_t>("uint8_2d", std::vector<std::uint8_t>{0, 1, 254, 255}, Shape{2, 2});
    arrays.write<std::string>("strings", std::vector<std::string>{"alpha", "λ̂ ≈ 1", ""});
    arrays.write<double>("scalar", std::vector<double>{42.5}, Shape{});
    arrays.write<double>("empty", std::vector<double>{});
    std::vector<double> smooth(256 * 1024);
    for (std::size_t i = 0; i < smooth.size(); ++i) smooth[i] = std::floor(i / 1024.0);
    file.root().write<double>("big/compressed", smooth);

    write_provenance(file.root(), R"({"seed": 7, "methods": ["svd", "quantize"]})");
    file.root().set_attribute("reals", std::vector<double>{0.5, -2.0});
    file.root().set_attribute("integers", std::vector<std::int64_t>{3, -4, 5});
    file.root().set_attribute("names", std::vector<std::string>{"a", "βγ"});
    file.root().set_attribute("real", 2.5);
    file.root().set_attribute("integer", -9);
    Table table;
    table.add("model", std::vector<std::string>{"pythia-70m", "pythia-160m"})
        .add("step", std::vector<std::int64_t>{1000, 143000}, "steps")
        .add("eps", std::vector<double>{0.01, 0.1}, "nats");
    write_table(file.root(), "summary", table);
    file.commit();
  }
  const CommandResult result =
      run_command(std::string(kPython) + " " + script("h5py_read_ours.py") + " " + file_path.string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(ScratchDirectory, WeReadWhatH5pyWrites) {
  if (!h5py_available()) GTEST_SKIP() << kPython << " cannot import h5py";
  const auto file_path = path("theirs.h5");
  const CommandResult result =
      run_command(std::string(kPython) + " " + script("h5py_write_sample.py") + " " + file_path.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;

  File file = File::open_read_only(file_path);
  const Group& root = file.root();
  EXPECT_EQ(root.read_vector<float>("half"), (std::vector<float>{0.5f, -2.0f, 65504.0f}));
  EXPECT_EQ(root.read_vector<std::int32_t>("int16"), (std::vector<std::int32_t>{-32768, 32767}));
  EXPECT_EQ(root.read_vector<std::int64_t>("uint16"), (std::vector<std::int64_t>{0, 65535}));
  EXPECT_THROW(root.read_vector<std::uint8_t>("uint16"), IoError);
  EXPECT_EQ(root.read_vector<double>("big_endian"), (std::vector<double>{1.5, -3.25}));
  EXPECT_EQ(root.read_vector<std::string>("ascii_vlen"), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(root.read_vector<std::string>("fixed"), (std::vector<std::string>{"ab", "cdefgh"}));
  EXPECT_EQ(root.read_vector<std::string>("utf8_vlen"), (std::vector<std::string>{"λ", "plain"}));
  EXPECT_EQ(root.read<std::int64_t>("scalar_int").shape, Shape{});
  EXPECT_EQ(root.read<std::int64_t>("scalar_int").values, std::vector<std::int64_t>{12});
  std::vector<double> expected(5000);
  for (int i = 0; i < 5000; ++i) expected[i] = i;
  EXPECT_EQ(root.read_vector<double>("filtered"), expected);

  EXPECT_EQ(root.open_dataset("flags").element_type(), "enum");
  EXPECT_THROW(root.read_vector<std::uint8_t>("flags"), IoError);
  EXPECT_EQ(root.open_dataset("pairs").element_type(), "compound");
  EXPECT_THROW(root.read_vector<double>("pairs"), IoError);

  EXPECT_EQ(root.attribute<std::string>("vlen_text"), "variable");
  EXPECT_EQ(root.attribute<std::string>("fixed_text"), "fixed");
  EXPECT_EQ(root.attribute<std::int64_t>("python_int"), 5);
  EXPECT_EQ(root.attribute<double>("python_float"), 0.25);
  EXPECT_EQ(root.attribute<std::vector<double>>("list_of_floats"), (std::vector<double>{1.0, 2.0, 3.5}));
  EXPECT_EQ(root.attribute<std::vector<std::int64_t>>("int32_array"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(root.attribute<std::vector<double>>("int32_array"), (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(root.attribute<std::vector<std::string>>("string_list"), (std::vector<std::string>{"x", "yz"}));

  // A file in the newest format opens for reading and for appending.
  const auto latest = file_path.string() + ".latest.h5";
  EXPECT_EQ(File::open_read_only(latest).root().read_vector<std::int64_t>("values"),
            (std::vector<std::int64_t>{0, 1, 2}));
  File::open_read_write(latest).root().write<double>("appended", std::vector<double>{1.5});
  EXPECT_EQ(File::open_read_only(latest).root().read_vector<double>("appended"), std::vector<double>{1.5});
}
