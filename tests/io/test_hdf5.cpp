#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "io/hdf5.h"
#include "scratch_directory.h"

using namespace llcpress;
using namespace llcpress::io;
using llcpress::io::testing::ScratchDirectory;

namespace {

// Values that exercise every bit pattern class of each type: extremes,
// negative zero, subnormals, infinities and NaN for floats; multi-byte UTF-8,
// empty and long strings.
template <typename T>
std::vector<T> sample_values(std::size_t count) {
  std::vector<T> values(count);
  for (std::size_t i = 0; i < count; ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      const T specials[] = {T(0),
                            -T(0),
                            std::numeric_limits<T>::denorm_min(),
                            std::numeric_limits<T>::max(),
                            std::numeric_limits<T>::lowest(),
                            std::numeric_limits<T>::infinity(),
                            -std::numeric_limits<T>::infinity(),
                            std::numeric_limits<T>::quiet_NaN()};
      values[i] = i < std::size(specials) ? specials[i] : static_cast<T>(std::sin(0.37 * i) * 1e3 / (i + 1));
    } else if constexpr (std::is_same_v<T, std::string>) {
      const std::string specials[] = {"", "plain ascii", "λ̂ ≈ 4.2 · ε→0 😀", std::string(10000, 'x')};
      values[i] = i < std::size(specials) ? specials[i] : "row " + std::to_string(i);
    } else {
      const T specials[] = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), T(0), T(1)};
      values[i] = i < std::size(specials) ? specials[i] : static_cast<T>(i * 2654435761u);
    }
  }
  return values;
}

// Bitwise equality, so that NaN, -0 and subnormals must survive exactly.
template <typename T>
void expect_identical(const std::vector<T>& expected, const std::vector<T>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if constexpr (std::is_arithmetic_v<T>) {
      EXPECT_EQ(0, std::memcmp(&expected[i], &actual[i], sizeof(T))) << "element " << i;
    } else {
      EXPECT_EQ(expected[i], actual[i]) << "element " << i;
    }
  }
}

std::int64_t product(const Shape& shape) {
  std::int64_t count = 1;
  for (auto dim : shape) count *= dim;
  return count;
}

}  // namespace

template <typename T>
class RoundTrip : public ScratchDirectory {};
using ElementTypes = ::testing::Types<float, double, std::int32_t, std::int64_t, std::uint8_t, std::string>;
TYPED_TEST_SUITE(RoundTrip, ElementTypes);

TYPED_TEST(RoundTrip, EveryShape) {
  const std::vector<Shape> shapes = {{}, {0}, {1}, {17}, {3, 4}, {2, 3, 4}, {0, 5}, {2, 1, 3, 2}};
  const auto file_path = this->path("shapes.h5");
  {
    File file = File::create(file_path);
    for (std::size_t s = 0; s < shapes.size(); ++s) {
      auto values = sample_values<TypeParam>(static_cast<std::size_t>(product(shapes[s])));
      file.root().write<TypeParam>("shape" + std::to_string(s), values, shapes[s],
                                   {.units = "1", .description = "shape test"});
    }
  }
  File file = File::open_read_only(file_path);
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    SCOPED_TRACE("shape index " + std::to_string(s));
    Array<TypeParam> array = file.root().read<TypeParam>("shape" + std::to_string(s));
    EXPECT_EQ(array.shape, shapes[s]);
    expect_identical(sample_values<TypeParam>(static_cast<std::size_t>(product(shapes[s]))), array.values);
    Dataset dataset = file.root().open_dataset("shape" + std::to_string(s));
    EXPECT_EQ(dataset.element_type(), element_name<TypeParam>());
    EXPECT_EQ(dataset.attribute<std::string>("units"), "1");
    EXPECT_EQ(dataset.attribute<std::string>("description"), "shape test");
  }
}

TYPED_TEST(RoundTrip, LargeArrayWithEveryCompressionSetting) {
  // 300 x 301 elements: past the automatic compression threshold for every
  // numeric type, and not a multiple of the chunk shape.
  const Shape shape = {300, 301};
  auto values = sample_values<TypeParam>(static_cast<std::size_t>(product(shape)));
  const auto file_path = this->path("large.h5");
  std::vector<Compression> settings = {Compression::Automatic, Compression::None};
  if constexpr (!std::is_same_v<TypeParam, std::string>) settings.push_back(Compression::Deflate);
  {
    File file = File::create(file_path);
    for (std::size_t i = 0; i < settings.size(); ++i)
      file.root().write<TypeParam>("data" + std::to_string(i), values, shape, {.compression = settings[i]});
  }
  File file = File::open_read_only(file_path);
  for (std::size_t i = 0; i < settings.size(); ++i) {
    Array<TypeParam> array = file.root().read<TypeParam>("data" + std::to_string(i));
    EXPECT_EQ(array.shape, shape);
    expect_identical(values, array.values);
  }
}

TEST_F(ScratchDirectory, AutomaticCompressionShrinksCompressibleData) {
  // A slowly varying signal: shuffle + deflate must store it in well under the
  // raw 8 bytes per value. Two files differing only in the setting.
  std::vector<double> smooth(256 * 1024);
  for (std::size_t i = 0; i < smooth.size(); ++i) smooth[i] = std::floor(i / 1024.0);
  for (auto [name, setting] : {std::pair{"auto.h5", Compression::Automatic}, {"none.h5", Compression::None}}) {
    File file = File::create(path(name));
    file.root().write<double>("smooth", smooth, {.compression = setting});
  }
  const auto compressed = std::filesystem::file_size(path("auto.h5"));
  const auto raw = std::filesystem::file_size(path("none.h5"));
  EXPECT_GT(raw, smooth.size() * sizeof(double));
  EXPECT_LT(compressed * 20, raw) << "compressed " << compressed << " bytes vs raw " << raw;
  EXPECT_EQ(File::open_read_only(path("auto.h5")).root().read_vector<double>("smooth"), smooth);
}

TEST_F(ScratchDirectory, RemoveDeletesAGroupWithItsContentsSoItCanBeWrittenAgain) {
  {
    File file = File::create(path("remove.h5"));
    file.root().write<double>("fits/table/slope", std::vector<double>{1, 2});
    file.root().write<double>("kept", std::vector<double>{3});
    file.root().remove("fits");
    EXPECT_FALSE(file.root().exists("fits"));
    file.root().write<double>("fits/table/slope", std::vector<double>{4});
    EXPECT_THROW(file.root().remove("missing"), IoError);
  }
  const File file = File::open_read_only(path("remove.h5"));
  EXPECT_EQ(file.root().read_vector<double>("fits/table/slope"), std::vector<double>{4});
  EXPECT_EQ(file.root().read_vector<double>("kept"), std::vector<double>{3});
}

TEST_F(ScratchDirectory, WriteValidatesShapeAndNames) {
  File file = File::create(path("bad.h5"));
  std::vector<double> six(6, 1.0);
  EXPECT_THROW(file.root().write<double>("x", six, Shape{4, 2}), InputError);
  EXPECT_THROW(file.root().write<double>("x", six, Shape{-2, -3}), InputError);
  EXPECT_THROW(file.root().write<double>("/", six), InputError);
  EXPECT_THROW(file.root().write<double>("../x", six), InputError);
  EXPECT_THROW(file.root().write<std::string>("s", std::vector<std::string>{std::string("a\0b", 3)}), InputError);
  EXPECT_FALSE(file.root().exists("s")) << "a refused write must leave nothing behind";
  EXPECT_THROW(
      file.root().write<std::string>("s", std::vector<std::string>{"a"}, {.compression = Compression::Deflate}),
      InputError);
  file.root().write<double>("x", six, Shape{2, 3});
  try {
    file.root().write<double>("x", six);
    FAIL() << "a second write of the same name must fail";
  } catch (const IoError& error) {
    EXPECT_EQ(error.where(), path("bad.h5").string() + ":/x");
  }
}

TEST_F(ScratchDirectory, ReadConvertsOnlyWithoutLoss) {
  File file = File::create(path("types.h5"));
  Group& root = file.root();
  root.write<double>("double", std::vector<double>{0.1, 2.5});
  root.write<float>("float", std::vector<float>{0.5f, -1.25f});
  root.write<std::int64_t>("int64", std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max()});
  root.write<std::int32_t>("int32", std::vector<std::int32_t>{-7, std::numeric_limits<std::int32_t>::max()});
  root.write<std::uint8_t>("uint8", std::vector<std::uint8_t>{0, 255});
  root.write<std::string>("string", std::vector<std::string>{"1.5"});

  // Widening conversions are exact.
  EXPECT_EQ(root.read_vector<double>("float"), (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(root.read_vector<std::int64_t>("int32"),
            (std::vector<std::int64_t>{-7, std::numeric_limits<std::int32_t>::max()}));
  EXPECT_EQ(root.read_vector<double>("int32"), (std::vector<double>{-7.0, 2147483647.0}));
  EXPECT_EQ(root.read_vector<std::int32_t>("uint8"), (std::vector<std::int32_t>{0, 255}));
  EXPECT_EQ(root.read_vector<float>("uint8"), (std::vector<float>{0.f, 255.f}));
  // Narrowing or changing kind is refused, naming the stored type.
  try {
    root.read_vector<float>("double");
    FAIL() << "double -> float must be refused";
  } catch (const IoError& error) {
    EXPECT_NE(std::string(error.what()).find("stored as float64"), std::string::npos) << error.what();
  }
  EXPECT_THROW(root.read_vector<std::int32_t>("int64"), IoError);
  EXPECT_THROW(root.read_vector<double>("int64"), IoError);  // 63 bits do not fit a double's 53
  EXPECT_THROW(root.read_vector<std::uint8_t>("int32"), IoError);
  EXPECT_THROW(root.read_vector<std::int64_t>("float"), IoError);
  EXPECT_THROW(root.read_vector<double>("string"), IoError);
  EXPECT_THROW(root.read_vector<std::string>("double"), IoError);
}

TEST_F(ScratchDirectory, ReadVectorRefusesMatrices) {
  File file = File::create(path("m.h5"));
  file.root().write<double>("m", std::vector<double>(6), {2, 3});  // a braced list is a Shape
  file.root().write<double>("scalar", std::vector<double>{4.0}, Shape{});
  EXPECT_THROW(file.root().read_vector<double>("m"), IoError);
  EXPECT_EQ(file.root().read_vector<double>("scalar"), std::vector<double>{4.0});
  EXPECT_EQ(file.root().open_dataset("m").shape(), (Shape{2, 3}));
  EXPECT_EQ(file.root().open_dataset("m").size(), 6);
}

TEST_F(ScratchDirectory, AttributesOfEveryKind) {
  {
    File file = File::create(path("attributes.h5"));
    Group group = file.root().create_group("g");
    Dataset dataset = group.write<double>("d", std::vector<double>{1, 2});
    for (Object* object :
         {static_cast<Object*>(&file.root()), static_cast<Object*>(&group), static_cast<Object*>(&dataset)}) {
      object->set_attribute("text", "first");
      object->set_attribute("text", std::string("ε = 0.01 · second"));  // replaces
      object->set_attribute("real", 2.5);
      object->set_attribute("integer", std::int64_t{-9'000'000'000});
      object->set_attribute("small", 7);                // int -> int64
      object->set_attribute("count", std::size_t{12});  // size_t -> int64
      object->set_attribute("reals", std::vector<double>{0.5, -1.0, 1e300});
      object->set_attribute("integers", std::vector<std::int64_t>{1, -2, 3});
      object->set_attribute("names", std::vector<std::string>{"a", "βγ", ""});
      object->set_attribute("empty", std::vector<double>{});
    }
  }
  File file = File::open_read_only(path("attributes.h5"));
  Group group = file.root().open_group("g");
  Dataset dataset = group.open_dataset("d");
  for (const Object* object : {static_cast<const Object*>(&file.root()), static_cast<const Object*>(&group),
                               static_cast<const Object*>(&dataset)}) {
    SCOPED_TRACE(object->path());
    EXPECT_EQ(object->attribute<std::string>("text"), "ε = 0.01 · second");
    EXPECT_EQ(object->attribute<double>("real"), 2.5);
    EXPECT_EQ(object->attribute<std::int64_t>("integer"), -9'000'000'000);
    EXPECT_EQ(object->attribute<std::int64_t>("small"), 7);
    EXPECT_EQ(object->attribute<std::int64_t>("count"), 12);
    EXPECT_EQ(object->attribute<std::vector<double>>("reals"), (std::vector<double>{0.5, -1.0, 1e300}));
    EXPECT_EQ(object->attribute<std::vector<std::int64_t>>("integers"), (std::vector<std::int64_t>{1, -2, 3}));
    EXPECT_EQ(object->attribute<std::vector<std::string>>("names"), (std::vector<std::string>{"a", "βγ", ""}));
    EXPECT_TRUE(object->attribute<std::vector<double>>("empty").empty());
    // A scalar reads as a one-element vector; a vector of several is not a scalar.
    EXPECT_EQ(object->attribute<std::vector<double>>("real"), std::vector<double>{2.5});
    EXPECT_THROW(object->attribute<double>("reals"), IoError);
    EXPECT_THROW(object->attribute<double>("text"), IoError);
    EXPECT_THROW(object->attribute<double>("integer"), IoError);  // int64 -> double may lose digits
    EXPECT_TRUE(object->has_attribute("real"));
    EXPECT_FALSE(object->has_attribute("missing"));
    EXPECT_EQ(object->attribute_names(), (std::vector<std::string>{"count", "empty", "integer", "integers", "names",
                                                                   "real", "reals", "small", "text"}));
  }
  try {
    dataset.attribute<double>("missing");
    FAIL();
  } catch (const IoError& error) {
    EXPECT_EQ(error.where(), path("attributes.h5").string() + ":/g/d (attribute 'missing')");
    EXPECT_NE(error.hint().find("count, empty, integer"), std::string::npos) << error.hint();
  }
}

TEST_F(ScratchDirectory, NestedGroups) {
  File file = File::create(path("groups.h5"));
  Group& root = file.root();
  Group c = root.create_group("a/b/c");
  EXPECT_EQ(c.path(), "/a/b/c");
  EXPECT_EQ(root.create_group("a//x/./y/").path(), "/a/x/y");
  c.write<double>("data", std::vector<double>{1});
  c.write<double>("/top/level", std::vector<double>{2});  // absolute, parents created

  EXPECT_TRUE(root.exists("a"));
  EXPECT_TRUE(root.exists("a/b/c/data"));
  EXPECT_TRUE(root.exists("/"));
  EXPECT_FALSE(root.exists("a/q/r"));
  EXPECT_FALSE(root.exists("a/b/c/data/below"));  // a dataset has no children
  EXPECT_TRUE(root.is_group("a/b"));
  EXPECT_FALSE(root.is_group("a/b/c/data"));
  EXPECT_TRUE(root.is_dataset("a/b/c/data"));
  EXPECT_TRUE(c.exists("/top/level"));
  EXPECT_EQ(root.children(), (std::vector<std::string>{"a", "top"}));
  EXPECT_EQ(root.open_group("a").children(), (std::vector<std::string>{"b", "x"}));

  Group b = root.open_group("a/b");
  EXPECT_EQ(b.open_group("c").path(), "/a/b/c");
  EXPECT_EQ(b.read_vector<double>("c/data"), std::vector<double>{1});
  EXPECT_EQ(root.require_group("a/b").path(), "/a/b");
  EXPECT_EQ(root.require_group("a/new/deep").path(), "/a/new/deep");
  EXPECT_THROW(root.create_group("a/b"), IoError);
  EXPECT_THROW(root.open_group("a/b/c/data"), IoError);
  EXPECT_THROW(root.open_dataset("a/b"), IoError);
  EXPECT_THROW(root.require_group("a/b/c/data"), IoError);
  try {
    root.open_group("a/b/missing");
    FAIL();
  } catch (const IoError& error) {
    EXPECT_EQ(error.where(), path("groups.h5").string() + ":/a/b/missing");
    EXPECT_NE(error.hint().find("'/a/b' holds: c"), std::string::npos) << error.hint();
  }
}

TEST_F(ScratchDirectory, ReadWriteReopensAndAppends) {
  File::create(path("rw.h5")).root().write<std::int32_t>("first", std::vector<std::int32_t>{1});
  {
    File file = File::open_read_write(path("rw.h5"));
    file.root().write<std::int32_t>("second", std::vector<std::int32_t>{2});
    file.root().set_attribute("note", "appended");
    file.close();
    EXPECT_FALSE(file.is_open());
    file.close();  // a no-op
  }
  File file = File::open_read_only(path("rw.h5"));
  EXPECT_EQ(file.root().children(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(file.root().attribute<std::string>("note"), "appended");
  EXPECT_THROW(file.root().write<std::int32_t>("third", std::vector<std::int32_t>{3}), IoError);
}

TEST_F(ScratchDirectory, CreateTruncatesAnExistingFile) {
  File::create(path("t.h5")).root().write<double>("old", std::vector<double>{1});
  File::create(path("t.h5")).root().write<double>("new", std::vector<double>{2});
  EXPECT_EQ(File::open_read_only(path("t.h5")).root().children(), std::vector<std::string>{"new"});
}

// ---------------------------------------------------------------- atomic files

TEST_F(ScratchDirectory, AtomicFileAppearsOnlyAtCommit) {
  const auto final_path = path("shard.h5");
  File file = File::create_atomic(final_path);
  EXPECT_EQ(file.path(), final_path);
  EXPECT_NE(file.write_path(), final_path);
  EXPECT_EQ(file.write_path().parent_path(), final_path.parent_path());  // same file system: rename is atomic
  EXPECT_TRUE(is_atomic_temporary(file.write_path()));
  file.root().write<double>("values", std::vector<double>{1, 2, 3});
  file.root().set_attribute("state", "complete");
  EXPECT_FALSE(std::filesystem::exists(final_path));
  EXPECT_TRUE(std::filesystem::exists(file.write_path()));
  const auto temporary = file.write_path();

  file.commit();
  EXPECT_TRUE(std::filesystem::exists(final_path));
  EXPECT_FALSE(std::filesystem::exists(temporary));
  EXPECT_EQ(file.write_path(), final_path);
  EXPECT_FALSE(file.is_open());
  EXPECT_THROW(file.commit(), InternalError);

  File reread = File::open_read_only(final_path);
  EXPECT_EQ(reread.root().read_vector<double>("values"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(reread.root().attribute<std::string>("state"), "complete");
}

TEST_F(ScratchDirectory, AtomicFileWithoutCommitLeavesNothing) {
  std::filesystem::path temporary;
  {
    File file = File::create_atomic(path("abandoned.h5"));
    temporary = file.write_path();
    file.root().write<double>("partial", std::vector<double>(1000, 1.0));
    EXPECT_TRUE(std::filesystem::exists(temporary));
    EXPECT_THROW(file.close(), InternalError);  // close() would hide the missing commit
  }
  EXPECT_FALSE(std::filesystem::exists(temporary));
  EXPECT_FALSE(std::filesystem::exists(path("abandoned.h5")));
  EXPECT_TRUE(std::filesystem::is_empty(directory_));
}

TEST_F(ScratchDirectory, AtomicCommitReplacesAndMovesKeepOwnership) {
  File::create(path("result.h5")).root().set_attribute("version", "old");
  File moved_to = [&] {
    File file = File::create_atomic(path("result.h5"));
    file.root().set_attribute("version", "new");
    return file;  // moved out: the moved-from object must not delete the temporary
  }();
  EXPECT_TRUE(std::filesystem::exists(moved_to.write_path()));
  EXPECT_EQ(File::open_read_only(path("result.h5")).root().attribute<std::string>("version"), "old");
  File assigned = File::create_atomic(path("other.h5"));
  const auto other_temporary = assigned.write_path();
  assigned = std::move(moved_to);  // discards other.h5's temporary
  EXPECT_FALSE(std::filesystem::exists(other_temporary));
  assigned.commit();
  EXPECT_EQ(File::open_read_only(path("result.h5")).root().attribute<std::string>("version"), "new");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory_), {}), 1);
}

TEST_F(ScratchDirectory, ObjectsOutlivingTheirFileFailCleanly) {
  Group group = [&] {
    File file = File::create_atomic(path("closed.h5"));
    Group inside = file.root().create_group("g");
    file.commit();  // strong close: `inside` is closed with the file
    return inside;
  }();
  EXPECT_THROW(group.write<double>("x", std::vector<double>{1}), IoError);
  EXPECT_THROW(group.set_attribute("a", 1.0), IoError);
  EXPECT_EQ(File::open_read_only(path("closed.h5")).root().children(), std::vector<std::string>{"g"});
}

TEST(AtomicTemporaryNames, RecogniseOnlyCreateAtomicNames) {
  EXPECT_TRUE(is_atomic_temporary("out/shards/12.h5.tmp.4711.0a1b2c3d"));
  EXPECT_FALSE(is_atomic_temporary("out/shards/12.h5"));
  EXPECT_FALSE(is_atomic_temporary("12.h5.tmp.4711.0A1B2C3D"));
  EXPECT_FALSE(is_atomic_temporary("12.h5.tmp.pid.0a1b2c3d"));
  EXPECT_FALSE(is_atomic_temporary(".tmp.1.0a1b2c3d"));
  EXPECT_FALSE(is_atomic_temporary("12.h5.tmp.1.0a1b2c3"));
}

// ---------------------------------------------------------------- bad files

namespace {

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Expects `action` to throw IoError naming `file` in where() and a one-line text containing `fragment`.
template <typename Action>
void expect_io_error(Action action, const std::filesystem::path& file, const std::string& fragment) {
  try {
    action();
    FAIL() << "no error for " << file;
  } catch (const IoError& error) {
    const std::string text = error.what();
    EXPECT_EQ(error.where().rfind(file.string(), 0), 0u) << text;
    EXPECT_NE(text.find(fragment), std::string::npos) << text;
    EXPECT_EQ(text.find('\n'), std::string::npos) << "not one line: " << text;
  }
}

void write_reference_file(const std::filesystem::path& path, Compression compression = Compression::None) {
  File file = File::create(path);
  Group group = file.root().create_group("results/llc");
  std::vector<double> draws(100000);
  for (std::size_t i = 0; i < draws.size(); ++i) draws[i] = std::sin(static_cast<double>(i));
  group.write<double>("draws", draws, {.units = "nats", .compression = compression});
  group.set_attribute("lambda_hat", 12.5);
}

}  // namespace

TEST_F(ScratchDirectory, MissingFileAndDirectory) {
  expect_io_error([&] { File::open_read_only(path("missing.h5")); }, path("missing.h5"), "file not found");
  expect_io_error([&] { File::open_read_write(path("missing.h5")); }, path("missing.h5"), "file not found");
  expect_io_error([&] { File::open_read_only(directory_); }, directory_, "is a directory");
  expect_io_error([&] { File::create(path("no/such/dir/x.h5")); }, path("no/such/dir/x.h5"), "does not exist");
  expect_io_error([&] { File::create_atomic(path("no/dir/x.h5")); }, path("no/dir/x.h5"), "does not exist");
}

TEST_F(ScratchDirectory, TruncatedFileIsAnIoErrorNamingIt) {
  const auto file = path("truncated.h5");
  write_reference_file(file);
  const auto full_size = std::filesystem::file_size(file);
  for (auto size : {full_size / 2, std::uintmax_t{1000}, std::uintmax_t{8}, std::uintmax_t{0}}) {
    std::filesystem::resize_file(file, size);
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    expect_io_error([&] { File::open_read_only(file); }, file, "cannot open as HDF5");
  }
}

TEST_F(ScratchDirectory, GarbageFileIsAnIoError) {
  const auto file = path("garbage.h5");
  std::string bytes(5000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + 3);
  write_bytes(file, bytes);
  expect_io_error([&] { File::open_read_only(file); }, file, "signature not found");
  write_bytes(file, "{\"not\": \"hdf5\"}\n");
  expect_io_error([&] { File::open_read_only(file); }, file, "cannot open as HDF5");
}

TEST_F(ScratchDirectory, DamagedFilesFailOrReadCorrectlyNeverWrongly) {
  // Overwrite a 64-byte window with a pattern, densely over the first 4 KiB
  // (superblock, object headers, heaps) and then every 4 KiB through the
  // compressed data. Each damaged copy must either read back exactly (the
  // damage hit unused space) or fail with a one-line IoError: checksummed
  // metadata (1.8 format) and per-chunk Fletcher-32 leave no silent misreads.
  // A crash fails the test binary.
  const auto reference = path("reference.h5");
  write_reference_file(reference, Compression::Automatic);
  std::string original;
  {
    std::ifstream in(reference, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::vector<double> expected = File::open_read_only(reference).root().read_vector<double>("results/llc/draws");
  const auto damaged = path("damaged.h5");
  int failures = 0, intact = 0;
  std::vector<std::size_t> offsets;
  for (std::size_t offset = 0; offset < 4096; offset += 64) offsets.push_back(offset);
  for (std::size_t offset = 4096; offset < original.size(); offset += 4096) offsets.push_back(offset);
  for (std::size_t offset : offsets) {
    std::string bytes = original;
    for (std::size_t i = offset; i < offset + 64 && i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5);
    write_bytes(damaged, bytes);
    try {
      File file = File::open_read_only(damaged);
      Group group = file.root().open_group("results/llc");
      EXPECT_EQ(group.read_vector<double>("draws"), expected) << "silently wrong data, damage at " << offset;
      EXPECT_EQ(group.attribute<double>("lambda_hat"), 12.5) << "damage at " << offset;
      EXPECT_EQ(group.open_dataset("draws").attribute<std::string>("units"), "nats") << "damage at " << offset;
      ++intact;
    } catch (const IoError& error) {
      EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos) << error.what();
      ++failures;
    }
    EXPECT_EQ(open_hdf5_object_count(), 0) << "handle left open after damage at " << offset;
  }
  EXPECT_GT(failures, static_cast<int>(offsets.size()) / 2) << "most windows hit metadata or data";
  RecordProperty("damaged_intact", intact);
  RecordProperty("damaged_failed", failures);
}

TEST_F(ScratchDirectory, MissingObjectsNameFileAndPath) {
  const auto file_path = path("objects.h5");
  write_reference_file(file_path);
  File file = File::open_read_only(file_path);
  expect_io_error([&] { file.root().open_dataset("results/llc/missing"); }, file_path, "no dataset at this path");
  expect_io_error([&] { file.root().read<double>("results/nothing/draws"); }, file_path, ":/results/nothing/draws");
  expect_io_error([&] { file.root().open_group("results/llc/draws"); }, file_path, "not a group");
}
