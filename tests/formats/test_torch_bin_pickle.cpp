// The restricted pickle machine on hand-built streams: what it accepts (torch's
// layout, protocol 4 spellings, big integers) and every way it refuses input,
// each error naming the stream, the byte offset and the opcode.
#include <gtest/gtest.h>

#include "formats/torch_bin.h"
#include "torch_test_support.h"

namespace llcpress::formats {
namespace {

using torch_test::expect_input_error;
using torch_test::PickleBuilder;
using torch_test::to_bytes;
using namespace std::string_literals;

const std::string kWhere = "test.bin:archive/data.pkl";

std::vector<PickledTensor> parse(const std::string& stream) {
  return parse_state_dict_pickle(to_bytes(stream), kWhere);
}

void expect_refused(const std::string& stream, const std::string& problem) {
  expect_input_error([&] { (void)parse(stream); }, kWhere, problem);
}

TEST(TorchPickle, ReadsTorchLayout) {
  const auto tensors = parse(PickleBuilder::state_dict({
      {"a", "HalfStorage", "0", 12, 0, {3, 4}, {4, 1}},
      {"b", "LongStorage", "1", 6, 2, {2, 2}, {1, 2}},
      {"scalar", "DoubleStorage", "2", 1, 0, {}, {}},
  }));
  ASSERT_EQ(tensors.size(), 3u);
  EXPECT_EQ(tensors[0].name, "a");
  EXPECT_EQ(tensors[0].dtype, DType::F16);
  EXPECT_EQ(tensors[0].storage_key, "0");
  EXPECT_EQ(tensors[0].storage_numel, 12);
  EXPECT_EQ(tensors[0].shape, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(tensors[0].stride, (std::vector<std::int64_t>{4, 1}));
  EXPECT_EQ(tensors[1].dtype, DType::I64);
  EXPECT_EQ(tensors[1].storage_offset, 2);
  EXPECT_EQ(tensors[1].stride, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(tensors[2].dtype, DType::F64);
  EXPECT_TRUE(tensors[2].shape.empty());
}

TEST(TorchPickle, StorageClassesMapToDtypes) {
  const std::vector<std::pair<std::string, DType>> classes = {
      {"HalfStorage", DType::F16},   {"BFloat16Storage", DType::BF16}, {"FloatStorage", DType::F32},
      {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64},      {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},       {"ByteStorage", DType::U8},
      {"BoolStorage", DType::BOOL}};
  for (const auto& [name, dtype] : classes) {
    const auto tensors = parse(PickleBuilder::state_dict({{"t", name, "0", 4, 0, {4}, {1}}}));
    ASSERT_EQ(tensors.size(), 1u);
    EXPECT_EQ(tensors[0].dtype, dtype) << name;
  }
}

TEST(TorchPickle, LargeIntegersThroughLong1AndBinInt) {
  // numel 2^33 needs LONG1 (torch writes it for storages past 2^31 elements).
  const auto tensors = parse(PickleBuilder::state_dict(
      {{"t", "ByteStorage", "0", std::int64_t{1} << 33, (std::int64_t{1} << 32) + 5, {70000, 2}, {1, 65536}}}));
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].storage_numel, std::int64_t{1} << 33);
  EXPECT_EQ(tensors[0].storage_offset, (std::int64_t{1} << 32) + 5);
  EXPECT_EQ(tensors[0].shape[0], 70000);
  // LONG1 with fewer than 8 bytes is sign-extended: 0xff,0xff -> -1, refused as an offset.
  PickleBuilder builder;
  builder.raw("}(").text("t").global("torch._utils", "_rebuild_tensor_v2").raw("((");
  builder.text("storage").global("torch", "FloatStorage").text("0").text("cpu").integer(4).raw("tQ");
  builder.byte(0x8a).byte(2).byte(0xff).byte(0xff).int_tuple({1}).int_tuple({1});
  builder.raw("\x89").global("collections", "OrderedDict").raw(")RtRu.");
  expect_refused(builder.str(), "negative storage offset -1");
}

TEST(TorchPickle, OrderedDictWithMetadataBuildAndProtocol4Opcodes) {
  // OrderedDict() via REDUCE, SETITEM, then BUILD with a _metadata dict as
  // nn.Module.state_dict() pickles; plus FRAME, MEMOIZE, SHORT_BINUNICODE,
  // BINUNICODE8, STACK_GLOBAL and LONG_BINPUT/LONG_BINGET.
  PickleBuilder builder;
  builder.byte(0x95).le<std::uint64_t>(0);  // FRAME of any length is only a hint
  builder.global("collections", "OrderedDict").raw(")R").byte(0x94);
  builder.byte(0x8c).byte(6).raw("weight");
  builder.byte(0x8c).byte(12).raw("torch._utils").byte(0x8c).byte(18).raw("_rebuild_tensor_v2").byte(0x93);
  builder.raw("((").byte(0x8d).le<std::uint64_t>(7).raw("storage");
  builder.global("torch", "FloatStorage").byte('r').le<std::uint32_t>(70000).text("0").text("cpu").integer(6).raw("tQ");
  builder.integer(0).int_tuple({2, 3}).int_tuple({3, 1}).raw("\x88");
  builder.byte('j').le<std::uint32_t>(70000).raw(")R");  // LONG_BINGET of the storage class: refused below
  expect_refused(builder.str() + "tRs.", "REDUCE on torch.FloatStorage is not allowed");

  PickleBuilder good;
  good.global("collections", "OrderedDict").raw(")R").byte(0x94);
  good.raw("(").text("weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).raw("u");
  good.raw("}").text("_metadata").global("collections", "OrderedDict").raw(")R").text("").raw("}").text("version");
  good.integer(1).raw("ss").raw("sb.");
  const auto tensors = parse(good.str());
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].name, "weight");
}

TEST(TorchPickle, RebuildTensorV3WithUntypedStorageAndParameter) {
  PickleBuilder builder;
  builder.raw("}(").text("u16").global("torch._utils", "_rebuild_tensor_v3").raw("((");
  builder.text("storage").global("torch.storage", "UntypedStorage").text("0").text("cpu").integer(8).raw("tQ");
  builder.integer(1).int_tuple({3}).int_tuple({1}).raw("\x89").global("collections", "OrderedDict").raw(")R");
  builder.global("torch", "uint16").raw("tR");
  builder.text("p").global("torch._utils", "_rebuild_parameter").raw("(");
  builder.tensor("FloatStorage", "1", 4, 0, {2, 2}, {2, 1}).raw("\x88").global("collections", "OrderedDict");
  builder.raw(")RtRu.");
  const auto tensors = parse(builder.str());
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].dtype, DType::U16);
  EXPECT_EQ(tensors[0].storage_numel, 4);  // 8 bytes of uint16
  EXPECT_EQ(tensors[0].storage_offset, 1);
  EXPECT_EQ(tensors[1].name, "p");
  EXPECT_EQ(tensors[1].dtype, DType::F32);
}

TEST(TorchPickle, ForeignGlobalsAreRefused) {
  expect_refused(
      "\x80\x02"
      "cos\nsystem\nX\x02\x00\x00\x00"
      "lsR."s,
      "pickle byte 2 (opcode 0x63 GLOBAL): global 'os.system' is not allowed");
  expect_refused(
      "\x80\x02"
      "cbuiltins\neval\n.",
      "global 'builtins.eval' is not allowed");
  expect_refused(
      "\x80\x02"
      "cposix\nsystem\n.",
      "global 'posix.system' is not allowed");
  expect_refused(
      "\x80\x02"
      "ctorch\nload\n.",
      "global 'torch.load' is not allowed");
  // Protocol 4 spelling of the same thing.
  expect_refused("\x80\x04\x8c\x02os\x8c\x06system\x93.", "opcode 0x93 STACK_GLOBAL): global 'os.system'");
  expect_refused(
      "\x80\x02"
      "ctorch\nComplexFloatStorage\n.",
      "tensor storage torch.ComplexFloatStorage is not supported");
  // A hostile name is escaped, not printed raw.
  expect_refused(
      "\x80\x02"
      "cos\x1b[31m\nx\n.",
      "global 'os\\x1b[31m.x'");
}

TEST(TorchPickle, OpcodesOutsideTheSubsetAreRefusedByName) {
  expect_refused("\x80\x02i__builtin__\nobject\n.", "opcode 0x69 INST");
  expect_refused(
      "\x80\x02"
      "(S'x'\n.",
      "opcode 0x53 STRING");
  expect_refused(
      "\x80\x02"
      "\x81.",
      "opcode 0x81 NEWOBJ");
  expect_refused("\x80\x02N2.", "opcode 0x32 DUP");
  expect_refused("\x80\x02\xfe.", "opcode 0xfe unknown");
  expect_refused("\x80\x06}.", "pickle protocol 6 is not supported");
}

TEST(TorchPickle, StackAndMemoMisuse) {
  expect_refused("\x80\x02.", "pickle byte 2 (opcode 0x2e STOP): stack underflow");
  expect_refused("\x80\x02}s.", "stack underflow");
  expect_refused("\x80\x02}(Ns.", "stack underflow");  // items below a MARK are out of reach
  expect_refused("\x80\x02}u.", "no MARK to close");
  expect_refused("\x80\x02h\x05.", "pickle byte 2 (opcode 0x68 BINGET): memo entry 5 was never stored");
  expect_refused("\x80\x02q\x00."s, "stack underflow");
  expect_refused(
      "\x80\x02}(NNN"
      "u.",
      "odd number of items (3)");
  expect_refused("\x80\x02NNNs.", "SETITEM(S) on None, not a dict");
  expect_refused("\x80\x02}Na.", "APPEND(S) on dict, not a list");
  expect_refused("\x80\x02]}b.", "BUILD on list is not supported");
  expect_refused("\x80\x02NNR.", "REDUCE's arguments must be a tuple, not None");
  expect_refused("\x80\x02N)R.", "REDUCE on None");
  expect_refused("\x80\x02NQ.", "persistent id must be a tuple, not None");
}

TEST(TorchPickle, TruncatedAndInvalidData) {
  expect_refused("\x80\x02}", "ends without STOP");
  expect_refused(
      "\x80\x02X\x10\x00\x00\x00"
      "abc"s,
      "a string of 16 bytes runs past the end");
  expect_refused("\x80\x02J\x01\x00"s, "needs 4 more bytes");
  expect_refused("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", "runs past the end");
  expect_refused(
      "\x80\x02"
      "ctorch._utils",
      "no terminating newline");
  expect_refused("\x80\x02\x8c\x02\xc3\x28.", "is not valid UTF-8");
  expect_refused(
      "\x80\x02\x8a\x09"
      "123456789.",
      "integer of 9 bytes does not fit in 64 bits");
  expect_refused("\x80\x02\x95\x00\x10\x00\x00\x00\x00\x00\x00."s, "frame of 4096 bytes runs past the end");
  expect_refused(std::string("\x80"), "needs 1 more bytes");
  expect_refused("", "ends without STOP");
}

TEST(TorchPickle, ResultMustBeAStateDictOfTensors) {
  expect_refused("\x80\x02N.", "the pickle holds a None, not a state dict");
  expect_refused(
      "\x80\x02}(X\x01\x00\x00\x00"
      "aK\x01u."s,
      "state dict entry 'a' is a int 1, not a tensor");
  expect_refused("\x80\x02}(K\x01K\x01u.", "state dict key int 1 is not a str");
  expect_refused(PickleBuilder::state_dict(
                     {{"a", "FloatStorage", "0", 1, 0, {1}, {1}}, {"a", "FloatStorage", "0", 1, 0, {1}, {1}}}),
                 "two entries named 'a'");
}

TEST(TorchPickle, TensorGeometryIsChecked) {
  using Entry = PickleBuilder::Entry;
  auto refuse = [](const Entry& entry, const std::string& problem) {
    expect_refused(PickleBuilder::state_dict({entry}), problem);
  };
  refuse({"t", "FloatStorage", "0", 12, 0, {4, 4}, {4, 1}}, "reaches element 15 of storage '0', which holds only 12");
  refuse({"t", "FloatStorage", "0", 12, 1, {3, 4}, {4, 1}}, "reaches element 12");
  refuse({"t", "FloatStorage", "0", 12, 0, {3, 4}, {1, 4}}, "reaches element 14");  // a transposed view too large
  refuse({"t", "FloatStorage", "0", 12, 0, {3, 4}, {4}}, "size has 2 dimensions but stride has 1");
  refuse({"t", "FloatStorage", "0", 12, 0, {-1, 4}, {4, 1}}, "negative size -1");
  refuse({"t", "FloatStorage", "0", 12, 0, {3, 4}, {-4, 1}}, "negative stride -4");
  refuse({"t", "FloatStorage", "0", 12, 13, {0}, {1}}, "storage offset 13 is past the end");
  // Sizes and strides whose products overflow 64 bits must not wrap into range.
  const std::int64_t huge = std::int64_t{1} << 62;
  refuse({"t", "FloatStorage", "0", 12, 0, {huge, 4}, {1, 1}}, "more than 2^63 elements");
  refuse({"t", "FloatStorage", "0", 12, 0, {3, 2}, {huge, huge}}, "extent exceeds 2^63");
  refuse({"t", "DoubleStorage", "0", huge, 0, {1}, {1}}, "exceeds 2^63 bytes");
  refuse({"t", "FloatStorage", "0", -3, 0, {1}, {1}}, "storage size must be a non-negative int");
  // Zero-size tensors and stride-0 (expanded) views inside the storage are fine.
  EXPECT_EQ(parse(PickleBuilder::state_dict({{"t", "FloatStorage", "0", 0, 0, {0, 3}, {3, 1}}})).size(), 1u);
  EXPECT_EQ(parse(PickleBuilder::state_dict({{"t", "FloatStorage", "0", 3, 0, {5, 3}, {0, 1}}})).size(), 1u);
  // Two persistent ids for one key must agree on its size.
  expect_refused(PickleBuilder::state_dict(
                     {{"a", "FloatStorage", "0", 4, 0, {1}, {1}}, {"b", "FloatStorage", "0", 5, 0, {1}, {1}}}),
                 "storage '0' is described as 16 bytes and as 20 bytes");
}

TEST(TorchPickle, MalformedTorchCallsAreRefused) {
  PickleBuilder wrong_arity;
  wrong_arity.global("torch._utils", "_rebuild_tensor_v2").raw("(NNt").raw("R.");
  expect_refused(wrong_arity.str(), "_rebuild_tensor_v2 called with 2 arguments (expected 6 or 7)");
  PickleBuilder not_storage;
  not_storage.global("torch._utils", "_rebuild_tensor_v2").raw("(N").integer(0).raw("))").raw("\x89}tR.");
  expect_refused(not_storage.str(), "tensor storage argument is None, not a storage");
  PickleBuilder bad_pid;
  bad_pid.raw("(").text("storage").global("collections", "OrderedDict").text("0").text("cpu").integer(1).raw("tQ.");
  expect_refused(bad_pid.str(), "persistent id names collections.OrderedDict instead of a storage class");
  PickleBuilder other_pid;
  other_pid.raw("(").text("module").raw("NNNNtQ.");
  expect_refused(other_pid.str(), "persistent id of type str 'module' is not supported");
  PickleBuilder short_pid;
  short_pid.raw("(").text("storage").raw("t").raw("Q.");
  expect_refused(short_pid.str(), "persistent id has 1 fields");
  PickleBuilder v2_untyped;
  v2_untyped.global("torch._utils", "_rebuild_tensor_v2").raw("((").text("storage");
  v2_untyped.global("torch.storage", "UntypedStorage").text("0").text("cpu").integer(4).raw("tQ");
  v2_untyped.integer(0).int_tuple({1}).int_tuple({1}).raw("\x89}tR.");
  expect_refused(v2_untyped.str(), "_rebuild_tensor_v2 on untyped storage '0'");
  PickleBuilder v3_odd;
  v3_odd.global("torch._utils", "_rebuild_tensor_v3").raw("((").text("storage");
  v3_odd.global("torch.storage", "UntypedStorage").text("0").text("cpu").integer(5).raw("tQ");
  v3_odd.integer(0).int_tuple({1}).int_tuple({1}).raw("\x89}").global("torch", "int32").raw("tR.");
  expect_refused(v3_odd.str(), "untyped storage '0' of 5 bytes is not a whole number of I32 elements");
  PickleBuilder ordered_args;
  ordered_args.global("collections", "OrderedDict").raw("(Nt").raw("R.");
  expect_refused(ordered_args.str(), "collections.OrderedDict called with 1 arguments");
}

TEST(TorchPickle, BombsAreBoundedNotFatal) {
  // 200,000 nested one-tuples: no recursion anywhere (values live in a flat
  // arena), so no stack overflow; the result is simply not a state dict.
  std::string nested = "\x80\x02N" + std::string(200'000, '\x85') + ".";
  expect_refused(nested, "not a state dict");
  // A self-containing dict (a cycle through the memo) is harmless.
  expect_refused(
      "\x80\x02}q\x00(X\x01\x00\x00\x00"
      "ah\x00u."s,
      "state dict entry 'a' is a dict");

  // Each budget, lowered so the test stays fast under the sanitizers.
  const PickleLimits limits{.max_objects = 1000, .max_pushes = 4000};
  auto refuse_within = [&](const std::string& stream, const std::string& problem) {
    expect_input_error([&] { (void)parse_state_dict_pickle(to_bytes(stream), kWhere, limits); }, kWhere, problem);
  };
  refuse_within("\x80\x02" + std::string(1001, 'N') + ".", "more than 1000 objects: this is not a state dict");
  // References to one memoized object create no object but are pushes.
  std::string references = "\x80\x02Nq\x00"s;
  for (int i = 0; i < 4000; ++i) references += "h\x00"s;
  refuse_within(references + ".", "more than 4000 stack pushes");
  refuse_within("\x80\x02" + std::string(1001, '(') + ".", "more than 1000 open MARKs");
  std::string memo = "\x80\x02N"s;
  for (std::uint32_t i = 0; i < 1001; ++i) memo += "r"s + std::string(reinterpret_cast<const char*>(&i), 4);
  refuse_within(memo + ".", "more than 1000 memo entries");
  // The same streams within the default budgets only fail for not being a state dict.
  expect_refused(references + ".", "the pickle holds a None, not a state dict");
  // The defaults: far above a state dict, far below memory exhaustion.
  EXPECT_EQ(PickleLimits{}.max_objects, std::size_t{1} << 22);
  EXPECT_EQ(PickleLimits{}.max_pushes, std::size_t{1} << 24);
}

}  // namespace
}  // namespace llcpress::formats
