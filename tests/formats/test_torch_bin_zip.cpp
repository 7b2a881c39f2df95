// The stored-ZIP reader and the archive layout checks of TorchBinFile, on
// hand-built archives and on fixtures with single fields corrupted.
#include <gtest/gtest.h>

#include <algorithm>

#include "formats/torch_bin.h"
#include "torch_test_support.h"

namespace llcpress::formats {
namespace {

using torch_test::expect_input_error;
using torch_test::fixture;
using torch_test::make_stored_zip;
using torch_test::PickleBuilder;
using torch_test::read_bytes;
using torch_test::to_bytes;

const std::string kWhere = "archive-under-test.bin";

template <typename T>
T load_at(const std::vector<std::byte>& bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}
template <typename T>
void store_at(std::vector<std::byte>& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

std::size_t find_last(const std::vector<std::byte>& bytes, std::uint32_t signature) {
  for (std::size_t i = bytes.size() - 4; i-- > 0;)
    if (load_at<std::uint32_t>(bytes, i) == signature) return i;
  ADD_FAILURE() << "signature not found";
  return 0;
}

void expect_zip_refused(const std::vector<std::byte>& bytes, const std::string& problem) {
  expect_input_error([&] { (void)read_zip_stored(bytes, kWhere); }, kWhere, problem);
}

std::string floats(std::initializer_list<float> values) {
  std::string bytes(values.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

const std::string kOneTensor = PickleBuilder::state_dict({{"w", "FloatStorage", "0", 4, 0, {2, 2}, {2, 1}}});

TEST(TorchZip, ReadsStoredEntriesInOrder) {
  const auto archive = to_bytes(make_stored_zip({{"a/x", "hello"}, {"a/empty", ""}, {"a/y", "world!"}}));
  const auto entries = read_zip_stored(archive, kWhere);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "a/x");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(entries[0].data.data()), entries[0].data.size()), "hello");
  EXPECT_TRUE(entries[1].data.empty());
  EXPECT_EQ(entries[2].data.size(), 6u);
  EXPECT_TRUE(read_zip_stored(to_bytes(make_stored_zip({})), kWhere).empty());
}

TEST(TorchZip, TorchArchiveEndsWithZip64Records) {
  // torch.save always writes a zip64 end record and locator (miniz); both
  // fixtures below go through that path or the hand-made full zip64 one.
  for (const char* name : {"torch_state_dict.bin", "torch_zip64_full.bin"}) {
    const auto bytes = read_bytes(fixture(name));
    EXPECT_NE(find_last(bytes, 0x06064b50), 0u) << name;
    EXPECT_FALSE(read_zip_stored(bytes, name).empty());
  }
}

TEST(TorchZip, TooSmallOrNotZip) {
  expect_zip_refused({}, "0 bytes is too small for a ZIP archive");
  expect_zip_refused(to_bytes(std::string(100, 'x')), "no ZIP end-of-central-directory record in the last 100 bytes");
  // A comment length that does not reach the end of the file is no end record.
  auto archive = to_bytes(make_stored_zip({{"a", "b"}}));
  store_at<std::uint16_t>(archive, archive.size() - 2, 5);
  expect_zip_refused(archive, "no ZIP end-of-central-directory record");
}

TEST(TorchZip, CorruptEndRecord) {
  const auto good = to_bytes(make_stored_zip({{"a/x", "hello"}, {"a/y", "world"}}));
  const std::size_t end = good.size() - 22;
  auto bytes = good;
  store_at<std::uint32_t>(bytes, end + 16, 0xffffffffu);  // central directory offset
  expect_zip_refused(bytes, "the end-of-central-directory record marks zip64 values");
  bytes = good;
  store_at<std::uint32_t>(bytes, end + 16, 0x7ffffff0u);
  expect_zip_refused(bytes, "the central directory (offset 2147483632");
  bytes = good;
  store_at<std::uint32_t>(bytes, end + 12, 4000);  // central directory size
  expect_zip_refused(bytes, "does not fit before the end records");
  bytes = good;
  store_at<std::uint16_t>(bytes, end + 10, 0xfffe);  // entry count
  store_at<std::uint16_t>(bytes, end + 8, 0xfffe);
  expect_zip_refused(bytes, "65534 entries cannot fit in a central directory of");
  bytes = good;
  store_at<std::uint16_t>(bytes, end + 4, 1);  // disk number
  expect_zip_refused(bytes, "multi-volume ZIP archives are not supported");
}

TEST(TorchZip, CorruptCentralDirectoryAndLocalHeaders) {
  const auto good = to_bytes(make_stored_zip({{"a/x", "hello"}, {"a/y", "world"}}));
  const std::size_t directory = load_at<std::uint32_t>(good, good.size() - 22 + 16);
  auto bytes = good;
  store_at<std::uint32_t>(bytes, directory, 0x12345678);
  expect_zip_refused(bytes, fmt::format("central directory entry 0 (byte {}): bad signature 0x12345678", directory));
  bytes = good;
  store_at<std::uint16_t>(bytes, directory + 10, 8);  // method: deflate
  expect_zip_refused(
      bytes,
      fmt::format("entry 'a/x' (central directory entry 0 (byte {})): compression method 8 (deflate)", directory));
  bytes = good;
  store_at<std::uint16_t>(bytes, directory + 10, 12);  // method: bzip2
  expect_zip_refused(bytes, "compression method 12 (not stored) is not supported");
  bytes = good;
  store_at<std::uint16_t>(bytes, directory + 8, 1);  // encrypted
  expect_zip_refused(bytes, "is encrypted");
  bytes = good;
  store_at<std::uint32_t>(bytes, directory + 20, 4);  // compressed != uncompressed
  expect_zip_refused(bytes, "stored entry with compressed size 4 != uncompressed size 5");
  bytes = good;
  store_at<std::uint32_t>(bytes, directory + 20, 5000);
  store_at<std::uint32_t>(bytes, directory + 24, 5000);
  expect_zip_refused(bytes, "local header sizes (5, 5) disagree with the central directory (5000, 5000)");
  bytes = good;
  store_at<std::uint16_t>(bytes, directory + 28, 200);  // name length
  expect_zip_refused(bytes, "run past the end of the central directory");
  bytes = good;
  store_at<std::uint32_t>(bytes, directory + 42, 1);  // local header offset
  expect_zip_refused(bytes, "no local header signature at byte 1");
  bytes = good;
  store_at<std::uint32_t>(bytes, directory + 42, 0x7fffffff);
  expect_zip_refused(bytes, "local header offset 2147483647 is outside the file data");
  bytes = good;
  store_at<std::uint32_t>(bytes, directory + 42, 0xffffffffu);  // zip64 sentinel without the extra field
  expect_zip_refused(bytes, "is 0xffffffff (zip64) but there is no zip64 extra field");
  bytes = good;
  bytes[30] = std::byte{'b'};  // the local header's copy of the name
  expect_zip_refused(bytes, "the local header names 'b/x' instead");
  bytes = good;
  store_at<std::uint16_t>(bytes, 28, 0xff00);  // local extra length
  expect_zip_refused(bytes, "local header name and extra field run into the central directory");
  bytes = good;
  store_at<std::uint16_t>(bytes, 8, 8);  // local method differs
  expect_zip_refused(bytes, "local header says compression method 8");
}

TEST(TorchZip, OverlapsAndDuplicates) {
  const auto good = to_bytes(make_stored_zip({{"a/x", "hello"}, {"a/x", "world"}}));
  expect_zip_refused(good, "the archive holds two entries named 'a/x'");
  // Point the second entry at the first one's local header: same bytes twice.
  auto bytes = good;
  const std::size_t directory = load_at<std::uint32_t>(bytes, bytes.size() - 22 + 16);
  store_at<std::uint32_t>(bytes, directory + 46 + 3 + 42, 0);
  expect_zip_refused(bytes, "entries 'a/x' and 'a/x' overlap");
}

TEST(TorchZip, CorruptZip64Records) {
  const auto good = read_bytes(fixture("torch_zip64_full.bin"));
  const std::size_t end = good.size() - 22;
  const std::size_t locator = end - 20;
  const std::size_t record = load_at<std::uint64_t>(good, locator + 8);
  ASSERT_EQ(load_at<std::uint32_t>(good, record), 0x06064b50u);
  auto bytes = good;
  store_at<std::uint64_t>(bytes, locator + 8, std::uint64_t{1} << 63);
  expect_zip_refused(bytes, "the zip64 end record offset 9223372036854775808 (+56 bytes) is past the zip64 locator");
  bytes = good;
  store_at<std::uint64_t>(bytes, locator + 8, record - 1);
  expect_zip_refused(bytes, "no zip64 end-of-central-directory record at byte");
  bytes = good;
  store_at<std::uint32_t>(bytes, locator + 16, 3);
  expect_zip_refused(bytes, "multi-volume ZIP archives are not supported (zip64 locator: disk 0, 3 disks)");
  bytes = good;
  store_at<std::uint64_t>(bytes, record + 4, ~std::uint64_t{0});
  expect_zip_refused(bytes, "claims 18446744073709551615 bytes, past the locator");
  bytes = good;
  store_at<std::uint64_t>(bytes, record + 32, std::uint64_t{1} << 60);  // entries
  store_at<std::uint64_t>(bytes, record + 24, std::uint64_t{1} << 60);
  expect_zip_refused(bytes, "1152921504606846976 entries cannot fit");
  bytes = good;
  store_at<std::uint64_t>(bytes, record + 48, ~std::uint64_t{0} - 10);  // directory offset: wraps if added
  expect_zip_refused(bytes, "does not fit before the end records");

  // The zip64 extra field of the first central-directory entry.
  const std::size_t directory = load_at<std::uint64_t>(good, record + 48);
  const std::size_t name_length = load_at<std::uint16_t>(good, directory + 28);
  const std::size_t extra = directory + 46 + name_length;
  ASSERT_EQ(load_at<std::uint16_t>(good, extra), 1);
  bytes = good;
  store_at<std::uint64_t>(bytes, extra + 4 + 16, ~std::uint64_t{0} - 3);  // local header offset
  expect_zip_refused(bytes, "local header offset 18446744073709551612 is outside the file data");
  bytes = good;
  store_at<std::uint64_t>(bytes, extra + 4, std::uint64_t{1} << 40);  // sizes past the file
  store_at<std::uint64_t>(bytes, extra + 12, std::uint64_t{1} << 40);
  expect_zip_refused(bytes, "local header sizes");
  bytes = good;
  store_at<std::uint16_t>(bytes, extra + 2, 8);  // zip64 field too short for three values
  expect_zip_refused(bytes, "the zip64 extra field (8 bytes) lacks the 64-bit compressed size");
  bytes = good;
  store_at<std::uint16_t>(bytes, extra + 2, 4000);
  expect_zip_refused(bytes, "extra field 0x0001 of 4000 bytes runs past the end of the extra data");
}

TEST(TorchZip, ArchiveLayoutChecks) {
  const std::string version = "3\n";
  auto open = [](const std::string& archive) {
    const auto bytes = to_bytes(archive);
    return TorchBinFile::parse(bytes, kWhere).tensors().size();
  };
  EXPECT_EQ(open(make_stored_zip({{"archive/data.pkl", kOneTensor},
                                  {"archive/data/0", floats({1, 2, 3, 4})},
                                  {"archive/byteorder", "little"}})),
            1u);
  // A bare data.pkl without a folder is what some writers produce; read it too.
  EXPECT_EQ(open(make_stored_zip({{"data.pkl", kOneTensor}, {"data/0", floats({1, 2, 3, 4})}})), 1u);
  auto refuse = [&](const std::string& archive, const std::string& problem) {
    const auto bytes = to_bytes(archive);
    expect_input_error([&] { (void)TorchBinFile::parse(bytes, kWhere); }, kWhere, problem);
  };
  refuse(make_stored_zip({{"archive/version", version}}), "a ZIP archive without a data.pkl entry");
  refuse(make_stored_zip({{"a/b/data.pkl", kOneTensor}}), "a ZIP archive without a data.pkl entry");
  refuse(make_stored_zip({{"a/data.pkl", kOneTensor}, {"b/data.pkl", kOneTensor}}),
         "the archive holds two state dicts ('a/data.pkl' and 'b/data.pkl')");
  refuse(make_stored_zip({{"archive/data.pkl", kOneTensor}, {"archive/byteorder", "big"}}),
         "'archive/byteorder' says 'big': only little-endian files are supported");
  refuse(make_stored_zip({{"archive/data.pkl", kOneTensor}, {"archive/data/1", floats({1, 2, 3, 4})}}),
         "tensor 'w': its storage 'archive/data/0' is missing from the archive");
  refuse(make_stored_zip({{"archive/data.pkl", kOneTensor}, {"archive/data/0", floats({1, 2, 3})}}),
         "storage 'archive/data/0' holds 12 bytes but the state dict declares 4 elements of F32 (16 bytes)");
  // A broadcast view naming 4 GiB over 16 bytes is refused, not allocated.
  refuse(make_stored_zip(
             {{"archive/data.pkl", PickleBuilder::state_dict({{"w", "FloatStorage", "0", 4, 0, {1 << 30}, {0}}})},
              {"archive/data/0", floats({1, 2, 3, 4})}}),
         "tensor 'w' is a broadcast view of 4294967296 bytes over a storage of 16 bytes");
  // Errors inside the pickle name the archive and the entry.
  refuse(make_stored_zip({{"archive/data.pkl", "\x80\x02N."}}),
         kWhere + ":archive/data.pkl: pickle byte 3 (opcode 0x2e STOP): the pickle holds a None");
  // torch < 1.6 wrote a bare pickle (magic number first).
  refuse("\x80\x02}.", "legacy (torch < 1.6) serialization format");
}

}  // namespace
}  // namespace llcpress::formats
