// safetensors reader and writer: a file written by the reference Python
// library read back exactly; write -> read round trips for every dtype; and
// malformed headers, each refused with an error naming the file and the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/rng.h"
#include "formats/safetensors.h"
#include "formats_test_util.h"

namespace llcpress::formats {
namespace {

using testing::expect_error;
using testing::fixture;
using testing::ScratchDir;

// ----------------------------------------------------------------- helpers

template <typename T>
T load(std::span<const std::byte> bytes, std::size_t i) {
  T value;
  std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
  return value;
}

// Expected float from the fixture JSON: a number, or "nan" / "inf" / "-inf".
double expected_float(const nlohmann::json& value) {
  if (value.is_string()) {
    if (value == "nan") return std::nan("");
    return value == "inf" ? INFINITY : -INFINITY;
  }
  return value.get<double>();
}

void expect_float_equal(double actual, double expected, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what;
  } else {
    EXPECT_EQ(actual, expected) << what;
    EXPECT_EQ(std::signbit(actual), std::signbit(expected)) << what;
  }
}

// Checks every element of `view` against the JSON list of exact values.
void expect_values(const TensorView& view, const nlohmann::json& values) {
  const auto count = static_cast<std::size_t>(view.info.numel());
  ASSERT_EQ(values.size(), count) << view.info.name;
  const std::vector<float> upcast = view.to_f32();
  for (std::size_t i = 0; i < count; ++i) {
    const std::string what = view.info.name + "[" + std::to_string(i) + "]";
    switch (view.info.dtype) {
      case DType::F16:
      case DType::BF16:
      case DType::F32:
        expect_float_equal(upcast[i], expected_float(values[i]), what);
        break;
      case DType::F64:
        expect_float_equal(load<double>(view.bytes, i), expected_float(values[i]), what);
        break;
      case DType::I8:
        EXPECT_EQ(load<std::int8_t>(view.bytes, i), values[i].get<std::int64_t>()) << what;
        break;
      case DType::I16:
        EXPECT_EQ(load<std::int16_t>(view.bytes, i), values[i].get<std::int64_t>()) << what;
        break;
      case DType::I32:
        EXPECT_EQ(load<std::int32_t>(view.bytes, i), values[i].get<std::int64_t>()) << what;
        break;
      case DType::I64:
        EXPECT_EQ(load<std::int64_t>(view.bytes, i), values[i].get<std::int64_t>()) << what;
        break;
      case DType::U8:
      case DType::BOOL:
        EXPECT_EQ(load<std::uint8_t>(view.bytes, i), values[i].get<std::uint64_t>()) << what;
        break;
      case DType::U16:
        EXPECT_EQ(load<std::uint16_t>(view.bytes, i), values[i].get<std::uint64_t>()) << what;
        break;
      case DType::U32:
        EXPECT_EQ(load<std::uint32_t>(view.bytes, i), values[i].get<std::uint64_t>()) << what;
        break;
      case DType::U64:
        EXPECT_EQ(load<std::uint64_t>(view.bytes, i), values[i].get<std::uint64_t>()) << what;
        break;
    }
    if (!dtype_is_float(view.info.dtype)) {
      // The fp32 upcast of an integer is the nearest float to its value.
      const double exact = values[i].is_number_unsigned() ? static_cast<double>(values[i].get<std::uint64_t>())
                                                          : static_cast<double>(values[i].get<std::int64_t>());
      EXPECT_EQ(upcast[i], static_cast<float>(exact)) << what;
    }
  }
}

// Builds a safetensors byte string from a header text and a data buffer size.
std::vector<std::byte> make_file(const std::string& header, std::size_t data_bytes, std::uint64_t length_field = 0) {
  const std::uint64_t length = length_field != 0 ? length_field : header.size();
  std::vector<std::byte> bytes(8 + header.size() + data_bytes, std::byte{0});
  std::memcpy(bytes.data(), &length, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

void expect_parse_error(const std::string& header, std::size_t data_bytes, const std::vector<std::string>& fragments) {
  const auto bytes = make_file(header, data_bytes);
  std::vector<std::string> all = fragments;
  all.push_back("bad.safetensors");
  expect_error([&] { SafetensorsFile::parse(bytes, "bad.safetensors"); }, all);
}

std::vector<std::byte> random_bytes(std::size_t count, std::uint64_t stream) {
  std::vector<std::byte> bytes(count);
  for (std::size_t i = 0; i < count; ++i)
    bytes[i] = static_cast<std::byte>(philox_bits(7, stream, i / 4).v[i % 4] & 0xFF);
  return bytes;
}

// ----------------------------------------------------------------- the reference library's file

TEST(Safetensors, ReadsFileWrittenByReferenceLibrary) {
  const auto expected = testing::load_json(fixture("st_dtypes.json"));
  const auto file = SafetensorsFile::open(fixture("st_dtypes.safetensors"));
  using Metadata = std::map<std::string, std::string>;
  EXPECT_EQ(file.metadata(), expected["metadata"].get<Metadata>());
  ASSERT_EQ(file.tensors().size(), expected["tensors"].size());
  for (const auto& [name, want] : expected["tensors"].items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(file.contains(name));
    const TensorView view = file.tensor(name);
    EXPECT_EQ(dtype_name(view.info.dtype), want["dtype"].get<std::string>());
    EXPECT_EQ(view.info.shape, want["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(view.bytes.size(), view.info.nbytes());
    expect_values(view, want["values"]);
  }
  // tensors() lists the file-offset order.
  for (std::size_t i = 1; i < file.tensors().size(); ++i)
    EXPECT_LE(file.tensor(file.tensors()[i - 1].name).bytes.data(), file.tensor(file.tensors()[i].name).bytes.data());
}

TEST(Safetensors, WriterMatchesReferenceLayout) {
  // Re-writing the reference file's tensors in its order gives the same header
  // size (the reference pads to 8 bytes too), the same data buffer and the same header content.
  const auto expected = testing::load_json(fixture("st_dtypes.json"));
  const auto reference = SafetensorsFile::open(fixture("st_dtypes.safetensors"));
  std::vector<TensorData> tensors;
  for (const auto& info : reference.tensors()) {
    auto view = reference.tensor(info.name);
    tensors.push_back({info, {view.bytes.begin(), view.bytes.end()}});
  }
  ScratchDir scratch;
  const std::string path = scratch.file("copy.safetensors");
  write_safetensors(path, tensors, reference.metadata());
  const auto ours = testing::read_bytes(path);
  const auto theirs = testing::read_bytes(fixture("st_dtypes.safetensors"));
  ASSERT_EQ(ours.size(), theirs.size());
  std::uint64_t our_length = 0;
  std::memcpy(&our_length, ours.data(), 8);
  EXPECT_EQ(our_length, expected["header_length"].get<std::uint64_t>());
  EXPECT_EQ(our_length % 8, 0u);
  EXPECT_EQ(std::memcmp(ours.data() + 8 + our_length, theirs.data() + 8 + our_length, ours.size() - 8 - our_length), 0);
  auto header = [](const std::vector<std::byte>& bytes, std::uint64_t length) {
    const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
    return nlohmann::json::parse(text, text + length);
  };
  EXPECT_EQ(header(ours, our_length), header(theirs, our_length));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
}

// ----------------------------------------------------------------- round trips

TEST(Safetensors, RoundTripEveryDtypeAndShape) {
  const std::vector<DType> dtypes = {DType::F16, DType::BF16, DType::F32, DType::F64, DType::U8,
                                     DType::I8,  DType::I16,  DType::U16, DType::I32, DType::U32,
                                     DType::I64, DType::U64,  DType::BOOL};
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {0}, {3}, {2, 3, 4}, {1, 0, 5}};
  std::vector<TensorData> tensors;
  std::uint64_t stream = 0;
  for (DType dtype : dtypes) {
    for (const auto& shape : shapes) {
      TensorData tensor;
      tensor.info = {
          std::string(dtype_name(dtype)) + "/rank" + std::to_string(shape.size()) + "_" + std::to_string(stream), dtype,
          shape};
      tensor.bytes = random_bytes(tensor.info.nbytes(), ++stream);
      if (dtype == DType::BOOL)
        for (auto& byte : tensor.bytes) byte &= std::byte{1};
      tensors.push_back(std::move(tensor));
    }
  }
  ScratchDir scratch;
  const std::string path = scratch.file("all.safetensors");
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "round trip \u00e9"}};
  write_safetensors(path, tensors, metadata);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& want = tensors[i];
    // The writer keeps the given order, so file order equals input order.
    EXPECT_EQ(file.tensors()[i].name, want.info.name);
    const TensorView view = file.tensor(want.info.name);
    EXPECT_EQ(view.info.dtype, want.info.dtype);
    EXPECT_EQ(view.info.shape, want.info.shape);
    ASSERT_EQ(view.bytes.size(), want.bytes.size());
    EXPECT_TRUE(std::equal(view.bytes.begin(), view.bytes.end(), want.bytes.begin())) << want.info.name;
  }
}

TEST(Safetensors, FromF32RoundsNarrowTypesToNearestEven) {
  const std::vector<float> values = {1.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65520.0f, -0.0f};
  ScratchDir scratch;
  const std::string path = scratch.file("f.safetensors");
  write_safetensors(
      path, {TensorData::from_f32("h", {5}, values, DType::F16), TensorData::from_f32("b", {5}, values, DType::BF16),
             TensorData::from_f32("f", {5}, values, DType::F32)});
  const auto file = SafetensorsFile::open(path);
  // fp16: 1 + 2^-11 ties to 1; 1 + 3*2^-11 ties up to 1 + 2^-9; 65520 overflows to inf.
  const std::vector<float> half = file.tensor("h").to_f32();
  EXPECT_EQ(half[0], 1.0f);
  EXPECT_EQ(half[1], 1.0f);
  EXPECT_EQ(half[2], 1.0f + 4.0f / 2048);
  EXPECT_TRUE(std::isinf(half[3]));
  EXPECT_TRUE(std::signbit(half[4]));
  EXPECT_EQ(file.tensor("b").to_f32()[3], 65536.0f);  // bf16 has 8 significant bits
  EXPECT_EQ(file.tensor("f").to_f32(), values);
}

TEST(Safetensors, WriterRefusesBadInput) {
  ScratchDir scratch;
  const std::string path = scratch.file("w.safetensors");
  TensorData a{{"a", DType::F32, {2}}, std::vector<std::byte>(8)};
  expect_error([&] { write_safetensors(path, {a, a}); }, {path, "'a' given twice"});
  TensorData short_bytes{{"s", DType::F32, {3}}, std::vector<std::byte>(8)};
  expect_error([&] { write_safetensors(path, {short_bytes}); }, {path, "'s'", "8 bytes given", "12 bytes"});
  TensorData reserved{{"__metadata__", DType::F32, {}}, std::vector<std::byte>(4)};
  expect_error([&] { write_safetensors(path, {reserved}); }, {"invalid tensor name"});
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Safetensors, EmptyFileOfTensors) {
  ScratchDir scratch;
  const std::string path = scratch.file("none.safetensors");
  write_safetensors(path, {});
  const auto file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.tensors().empty());
  expect_error([&] { file.tensor("x"); }, {path, "no tensor named 'x'"});
}

// ----------------------------------------------------------------- malformed input

TEST(SafetensorsMalformed, TooShortForLength) {
  for (std::size_t size : {0, 1, 7}) {
    std::vector<std::byte> bytes(size);
    expect_error([&] { SafetensorsFile::parse(bytes, "tiny.safetensors"); },
                 {"tiny.safetensors", "too short to hold the 8-byte header length"});
  }
}

TEST(SafetensorsMalformed, HeaderLengthPastEndOfFile) {
  const auto bytes = make_file("{}", 0, 1000);
  expect_error([&] { SafetensorsFile::parse(bytes, "short.safetensors"); },
               {"short.safetensors", "header length 1000 runs past the end of the file", "2 bytes"});
}

TEST(SafetensorsMalformed, HeaderAbove100MB) {
  const auto bytes = make_file("{}", 0, 100'000'001);
  expect_error([&] { SafetensorsFile::parse(bytes, "huge.safetensors"); },
               {"huge.safetensors", "header length 100000001 exceeds the 100 MB limit"});
}

TEST(SafetensorsMalformed, BadJson) {
  expect_parse_error("{\"a\": {\"dtype\": ", 0, {"header is not valid JSON"});
  expect_parse_error("[1, 2]", 0, {"header is a JSON array, not an object"});
  expect_parse_error("{\"a\": 3}", 0, {"entry for tensor 'a' is a JSON number, not an object"});
  expect_parse_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}} trailing", 4,
                     {"header is not valid JSON"});
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_parse_error(R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", 2,
                     {"tensor 'w' has unknown dtype 'F8_E4M3'", "supported: F16, BF16"});
  expect_parse_error(R"({"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 2]}})", 2,
                     {"tensor 'w' has no \"dtype\" string"});
}

TEST(SafetensorsMalformed, ShapeSizeMismatch) {
  expect_parse_error(
      R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20,
      {"tensor 'w': shape/size mismatch", "shape [2, 3] of F32 needs 24 bytes", "data_offsets [0, 20] span 20 bytes"});
}

TEST(SafetensorsMalformed, BadShapes) {
  expect_parse_error(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})", 0,
                     {"tensor 'w': shape entry -1 is not a non-negative integer"});
  expect_parse_error(R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 0]}})", 0,
                     {"shape entry 2.5 is not a non-negative integer"});
  expect_parse_error(R"({"w": {"dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 0]}})", 0,
                     {"more elements than fit in 64 bits"});
  expect_parse_error(R"({"w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0,
                     {"needs more bytes than fit in 64 bits"});
  expect_parse_error(R"({"w": {"dtype": "F32", "data_offsets": [0, 0]}})", 0, {"tensor 'w' has no \"shape\" array"});
}

TEST(SafetensorsMalformed, OffsetsOutOfRange) {
  expect_parse_error(R"({"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}})", 16,
                     {"tensor 'w': data_offsets [0, 24] run past the end of the data buffer (16 bytes)"});
  expect_parse_error(R"({"w": {"dtype": "U8", "shape": [0], "data_offsets": [8, 4]}})", 16,
                     {"data_offsets [8,4] must be non-negative integers with begin <= end"});
  expect_parse_error(R"({"w": {"dtype": "U8", "shape": [2], "data_offsets": [-2, 0]}})", 16,
                     {"must be non-negative integers"});
  expect_parse_error(R"({"w": {"dtype": "U8", "shape": [2], "data_offsets": [0]}})", 16,
                     {"tensor 'w' has no \"data_offsets\" pair"});
  // An end beyond 2^64 would wrap in naive arithmetic.
  expect_parse_error(R"({"w": {"dtype": "U8", "shape": [2], "data_offsets": [18446744073709551615, 1]}})", 16,
                     {"begin <= end"});
}

TEST(SafetensorsMalformed, OverlappingOffsets) {
  expect_parse_error(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                     12, {"tensor 'b' data_offsets [4, 12] overlap tensor 'a'"});
  // Two tensors sharing the same bytes.
  expect_parse_error(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}})",
                     8, {"overlap"});
}

TEST(SafetensorsMalformed, GapsAndUncoveredBytes) {
  expect_parse_error(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})",
                     20, {"4 unused bytes before tensor 'b'", "contiguous"});
  expect_parse_error(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 12,
                     {"4 bytes after the last tensor are not covered"});
}

TEST(SafetensorsMalformed, Metadata) {
  expect_parse_error(R"({"__metadata__": {"format": "pt", "step": 1000}})", 0,
                     {"__metadata__ must map strings to strings", "key 'step' holds a JSON number"});
  expect_parse_error(R"({"__metadata__": ["pt"]})", 0, {"__metadata__ must be an object"});
}

TEST(SafetensorsMalformed, DuplicateTensorName) {
  expect_parse_error(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                         "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                     2, {"header names tensor 'a' twice"});
}

TEST(SafetensorsMalformed, DeepNestingIsRefusedBeforeAnyRecursion) {
  expect_parse_error(R"({"w": {"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}})", 8,
                     {"header nests JSON containers deeper than 3 levels"});
  // Far deeper than any stack could follow recursively.
  expect_parse_error(std::string(200000, '['), 0, {"header nests JSON containers deeper than 3 levels"});
  expect_parse_error("{\"__metadata__\": {\"k\": " + std::string(100000, '['), 0, {"deeper than 3 levels"});
}

TEST(SafetensorsMalformed, RepeatedKeyInsideEntry) {
  expect_parse_error(R"({"w": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}})", 8,
                     {"key 'dtype' appears twice in one header entry"});
}

TEST(SafetensorsMalformed, EveryTruncationOfARealFile) {
  // Every prefix of a valid file is refused with an InputError (never a crash);
  // the header-level ones name the problem precisely.
  const auto bytes = testing::read_bytes(fixture("st_dtypes.safetensors"));
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    const std::span<const std::byte> prefix(bytes.data(), size);
    std::string expected = size < 8 ? "too short" : size < 8 + header_length ? "runs past the end of the file" : "";
    try {
      SafetensorsFile::parse(prefix, "cut.safetensors");
      ADD_FAILURE() << "prefix of " << size << " bytes accepted";
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find("cut.safetensors"), std::string::npos);
      if (!expected.empty()) {
        EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
      }
    }
  }
}

TEST(SafetensorsMalformed, EveryHeaderByteCorrupted) {
  // Each header byte replaced by a character that breaks structure: the parser
  // either still accepts a valid file or throws InputError, nothing else.
  auto bytes = testing::read_bytes(fixture("st_dtypes.safetensors"));
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  int refused = 0;
  for (std::size_t i = 8; i < 8 + header_length; ++i) {
    for (char replacement : {'9', '"', '}', '\0'}) {
      const std::byte saved = bytes[i];
      bytes[i] = static_cast<std::byte>(replacement);
      try {
        SafetensorsFile::parse(bytes, "corrupt.safetensors");
      } catch (const InputError&) {
        ++refused;
      }
      bytes[i] = saved;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(SafetensorsMalformed, OpenNamesThePath) {
  ScratchDir scratch;
  const std::string path = scratch.file("truncated.safetensors");
  auto bytes = testing::read_bytes(fixture("st_dtypes.safetensors"));
  bytes.resize(bytes.size() - 5);
  testing::write_bytes(path, bytes);
  expect_error([&] { SafetensorsFile::open(path); }, {path, "run past the end of the data buffer"});
  expect_error<IoError>([&] { SafetensorsFile::open(scratch.file("missing.safetensors")); },
                        {"missing.safetensors", "cannot open"});
  expect_error<IoError>([&] { SafetensorsFile::open(scratch.path().string()); }, {"not a regular file"});
}

}  // namespace
}  // namespace llcpress::formats
