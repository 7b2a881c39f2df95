// pytorch_model.bin fixtures written by torch.save and transformers'
// save_pretrained (tests/fixtures/make_torch_fixtures.py) must read back with
// exactly the names, dtypes, shapes and bytes those libraries wrote.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <bit>
#include <set>
#include <thread>

#include "formats/torch_bin.h"
#include "torch_test_support.h"

namespace llcpress::formats {
namespace {

using torch_test::expect_input_error;
using torch_test::fixture;
using torch_test::from_hex;
using torch_test::read_bytes;
using torch_test::read_json;

std::string sha256_hex(std::span<const std::byte> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::vector<std::int64_t> shape_of(const nlohmann::json& entry) {
  return entry.at("shape").get<std::vector<std::int64_t>>();
}

// Bytes equal to torch's own C-order bytes, and the fp32 upcast equal (to the
// bit) to torch's .to(float32): there is no tolerance because both are exact
// conversions, or the same round-to-nearest of the same value.
void expect_tensor_matches(const TorchBinFile& file, const nlohmann::json& expected) {
  const std::string name = expected.at("name");
  SCOPED_TRACE(name);
  ASSERT_TRUE(file.contains(name));
  const TensorView view = file.tensor(name);
  EXPECT_EQ(view.info.name, name);
  EXPECT_EQ(dtype_name(view.info.dtype), expected.at("dtype").get<std::string>());
  EXPECT_EQ(view.info.shape, shape_of(expected));
  EXPECT_EQ(sha256_hex(view.bytes), expected.at("sha256").get<std::string>());
  if (expected.contains("hex")) {
    const std::vector<std::byte> bytes = from_hex(expected.at("hex"));
    ASSERT_EQ(view.bytes.size(), bytes.size());
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), view.bytes.begin()));
  }
  const std::vector<float> values = view.to_f32();
  if (expected.contains("f32_values")) {
    const auto reference = expected.at("f32_values").get<std::vector<double>>();
    ASSERT_EQ(values.size(), reference.size());
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(std::bit_cast<std::uint32_t>(values[i]), std::bit_cast<std::uint32_t>(static_cast<float>(reference[i])))
          << "element " << i << ": " << values[i] << " vs " << reference[i];
  }
  if (expected.contains("f32_head")) {
    const auto head = expected.at("f32_head").get<std::vector<double>>();
    ASSERT_GE(values.size(), head.size());
    for (std::size_t i = 0; i < head.size(); ++i) EXPECT_EQ(values[i], static_cast<float>(head[i])) << i;
    // Every value is an fp16 number (11 significant bits, exponents 2^-24..2^15),
    // so every partial sum in double is exact and any summation order gives
    // torch's sum exactly.
    double sum = 0.0;
    for (float value : values) sum += value;
    EXPECT_EQ(sum, expected.at("f32_sum").get<double>());
  }
}

void expect_file_matches(const TorchBinFile& file, const nlohmann::json& tensors) {
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(file.tensors()[i].name, tensors[i].at("name").get<std::string>()) << "state dict order, entry " << i;
    expect_tensor_matches(file, tensors[i]);
  }
}

TEST(TorchBin, StateDictWithEveryDtypeViewsAndSharedStorage) {
  const auto expected = read_json(fixture("torch_state_dict.json"));
  const TorchBinFile file = TorchBinFile::open(fixture("torch_state_dict.bin"));
  EXPECT_EQ(file.path(), fixture("torch_state_dict.bin"));
  expect_file_matches(file, expected.at("tensors"));
  // The fixture must keep covering what it was made for.
  std::set<std::string> dtypes;
  bool saw_strided = false;
  for (const auto& entry : expected.at("tensors")) {
    dtypes.insert(entry.at("dtype").get<std::string>());
    saw_strided |= !entry.at("contiguous").get<bool>();
  }
  EXPECT_TRUE(saw_strided);
  for (const char* dtype : {"F16", "BF16", "F32", "F64", "I64", "U8", "BOOL", "U16"})
    EXPECT_TRUE(dtypes.count(dtype)) << dtype;
}

TEST(TorchBin, ContiguousViewsPointIntoTheFileAndStridedOnesAreCached) {
  const std::string path = fixture("torch_state_dict.bin");
  const std::vector<std::byte> bytes = read_bytes(path);
  const TorchBinFile file = TorchBinFile::parse(bytes, "in-memory copy");
  const auto inside = [&](std::span<const std::byte> view) {
    return view.data() >= bytes.data() && view.data() + view.size() <= bytes.data() + bytes.size();
  };
  EXPECT_TRUE(inside(file.tensor("f32").bytes));
  // base[2]: contiguous with a storage offset of 12 floats into "f32"'s storage.
  EXPECT_EQ(file.tensor("f32_row").bytes.data(), file.tensor("f32").bytes.data() + 12 * sizeof(float));
  // The transposed view is gathered once; later calls return the same buffer.
  const TensorView first = file.tensor("f32_transposed");
  EXPECT_FALSE(inside(first.bytes));
  EXPECT_EQ(file.tensor("f32_transposed").bytes.data(), first.bytes.data());
  // Tied tensors read the same storage.
  EXPECT_EQ(file.tensor("shared_a").bytes.data(), file.tensor("shared_b").bytes.data());
  EXPECT_THROW(file.tensor("no.such.tensor"), InputError);
  EXPECT_FALSE(file.contains("no.such.tensor"));
}

TEST(TorchBin, ConcurrentGathersAgree) {
  const TorchBinFile file = TorchBinFile::open(fixture("torch_state_dict.bin"));
  std::vector<const std::byte*> seen(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < seen.size(); ++t)
    threads.emplace_back([&, t] { seen[t] = file.tensor("f32_block").bytes.data(); });
  for (auto& thread : threads) thread.join();
  for (const auto* pointer : seen) EXPECT_EQ(pointer, seen[0]);
}

TEST(TorchBin, MovedFileKeepsItsViews) {
  TorchBinFile file = TorchBinFile::open(fixture("torch_state_dict.bin"));
  const auto gathered = file.tensor("f32_expanded").to_f32();
  TorchBinFile moved = std::move(file);
  EXPECT_EQ(moved.tensor("f32_expanded").to_f32(), gathered);
  const auto expected = read_json(fixture("torch_state_dict.json"));
  expect_file_matches(moved, expected.at("tensors"));
}

TEST(TorchBin, Zip64Archives) {
  const auto expected = read_json(fixture("torch_zip64.json"));
  for (const auto& name : expected.at("files")) {
    SCOPED_TRACE(name.get<std::string>());
    const TorchBinFile file = TorchBinFile::open(fixture(name));
    expect_file_matches(file, expected.at("tensors"));
  }
}

TEST(TorchBin, HandMadePickleMatchesWhatTorchLoaded) {
  const auto expected = read_json(fixture("torch_handmade_ok.json"));
  expect_file_matches(TorchBinFile::open(fixture("torch_handmade_ok.bin")), expected.at("tensors"));
}

TEST(TorchBin, NeoxSavePretrainedSingleAndSharded) {
  const auto expected = read_json(fixture("torch_neox.json"));
  const TorchBinFile single = TorchBinFile::open(fixture(expected.at("single")));
  expect_file_matches(single, expected.at("tensors"));

  // The shards together hold exactly the single file's tensors, where the index says.
  const auto& weight_map = expected.at("weight_map");
  std::set<std::string> names;
  for (const auto& shard_name : expected.at("shards")) {
    const std::string relative = shard_name;
    const TorchBinFile shard = TorchBinFile::open(fixture(relative));
    const std::string base = relative.substr(relative.find('/') + 1);
    for (const auto& info : shard.tensors()) {
      EXPECT_EQ(weight_map.at(info.name).get<std::string>(), base) << info.name;
      EXPECT_TRUE(names.insert(info.name).second) << info.name;
      const TensorView a = shard.tensor(info.name);
      const TensorView b = single.tensor(info.name);
      EXPECT_EQ(a.info.shape, b.info.shape);
      EXPECT_EQ(a.info.dtype, DType::F16);
      EXPECT_TRUE(std::equal(a.bytes.begin(), a.bytes.end(), b.bytes.begin(), b.bytes.end())) << info.name;
    }
  }
  EXPECT_EQ(names.size(), single.tensors().size());
}

TEST(TorchBin, MalformedFixturesNameTheFileAndTheProblem) {
  const auto expected = read_json(fixture("torch_malformed.json"));
  ASSERT_GE(expected.at("cases").size(), 7u);
  for (const auto& entry : expected.at("cases")) {
    const std::string path = fixture(entry.at("file"));
    SCOPED_TRACE(path);
    expect_input_error([&] { (void)TorchBinFile::open(path); }, path, entry.at("error"));
  }
}

TEST(TorchBin, ForeignGlobalIsRefusedAtItsByteOffset) {
  const std::string path = fixture("torch_evil_os_system.bin");
  const std::string message = expect_input_error([&] { (void)TorchBinFile::open(path); }, path + ":archive/data.pkl",
                                                 "pickle byte 2 (opcode 0x63 GLOBAL)");
  EXPECT_NE(message.find("nothing in the file was executed"), std::string::npos) << message;
}

TEST(TorchBin, MissingFileIsAnIoError) {
  EXPECT_THROW((void)TorchBinFile::open(fixture("torch_does_not_exist.bin")), IoError);
}

}  // namespace
}  // namespace llcpress::formats
