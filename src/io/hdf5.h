// A small RAII layer over the HDF5 C API: files (with atomic create-and-rename),
// nested groups, typed N-d datasets, attributes and column tables.
//
// This header does not include <hdf5.h>: HDF5 stays inside src/io (DESIGN.md,
// "Boundaries"). An HDF5 id is carried as `Hid` (the same 64-bit integer as
// hid_t in HDF5 >= 1.10, checked in hdf5.cpp).
//
// Access mode: every file is opened with the default (sec2, POSIX) driver, not
// MPI-IO, even though we link the parallel HDF5. The pipeline writes one file
// per shard from a single rank and gathers on one rank, so collective I/O would
// only add synchronisation; it also keeps the files readable while MPI is not
// initialised (tests, query, h5py).
//
// Errors: anything about the file throws llcpress::IoError (cannot open, corrupt,
// missing object, stored type that does not convert); a bad argument from the
// caller (shape/value count mismatch, invalid name) throws InputError. where()
// is "<file>:<object path>" (attributes: "<file>:<path> (attribute 'name')")
// and the text is one line, with the cause taken from HDF5's error stack;
// HDF5's own printing to stderr is switched off.
//
// Not thread-safe: Debian's HDF5 is built without the thread-safety lock, so at
// most one thread per process may be inside this layer at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace llcpress::io {

using Hid = std::int64_t;
// Dimensions of a dataset, C (row-major) order; {} is a scalar (one element).
using Shape = std::vector<std::int64_t>;

// The element types a dataset can hold.
template <typename T>
concept Element = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int32_t> ||
    std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::string>;

// The names used in messages and in docs/hdf5-schema.md.
template <Element T>
constexpr std::string_view element_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  if constexpr (std::is_same_v<T, std::string>) return "string";
}

// The value types attribute<T>() can return.
template <typename T>
concept AttributeValue = std::is_same_v<T, std::string> || std::is_same_v<T, double> ||
    std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::vector<double>> ||
    std::is_same_v<T, std::vector<std::int64_t>> || std::is_same_v<T, std::vector<std::string>>;

// Owns one HDF5 id of any kind and closes it with the matching H5?close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(Hid id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  Hid get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; ids already invalidated by a strong file close are skipped.
  void reset() noexcept;
  // Gives up ownership without closing.
  Hid release() noexcept {
    Hid id = id_;
    id_ = -1;
    return id;
  }

 private:
  Hid id_ = -1;
};

// An N-d array read back from a dataset: values in C order plus the shape.
template <Element T>
struct Array {
  std::vector<T> values;  // [product(shape)]
  Shape shape;
};

// Compressed datasets are chunked (about 1 MiB per chunk) and filtered with
// shuffle, deflate (gzip level 4) and a Fletcher-32 checksum per chunk; h5py,
// h5dump and every HDF5 build with zlib read them.
enum class Compression {
  Automatic,  // compress numeric arrays of >= 64 KiB when deflate is available
  None,       // contiguous layout
  Deflate,    // always compress (an error for strings, scalars, empty arrays, or without deflate)
};

// Metadata written with a dataset. docs/hdf5-schema.md asks every dataset of an
// output file to carry both; they are optional here so that tests and scratch
// files stay short.
struct DatasetOptions {
  std::string units = {};        // "nats", "bits/parameter", "1" for dimensionless, ...
  std::string description = {};  // one sentence: what the values are
  Compression compression = Compression::Automatic;
};

// Anything that can carry attributes: a group (the root group too) or a dataset.
class Object {
 public:
  // The object's absolute path inside its file ("/" for the root group).
  const std::string& path() const { return path_; }
  const std::string& file_name() const { return *file_name_; }
  // "<file>:<path>", the `where` of every error about this object.
  std::string where() const;
  std::string where(std::string_view child) const;
  Hid id() const { return handle_.get(); }

  // Attributes are replaced when they exist already.
  void set_attribute(std::string_view name, std::string_view value);
  void set_attribute(std::string_view name, const char* value) { set_attribute(name, std::string_view(value)); }
  void set_attribute(std::string_view name, double value);
  void set_attribute(std::string_view name, std::int64_t value);
  // Every other integer type (int, size_t, ...) is stored as int64.
  template <std::integral T>
  requires(!std::is_same_v<T, bool> && !std::is_same_v<T, std::int64_t>) void set_attribute(std::string_view name,
                                                                                            T value) {
    set_attribute(name, static_cast<std::int64_t>(value));
  }
  void set_attribute(std::string_view name, std::span<const double> values);
  void set_attribute(std::string_view name, std::span<const std::int64_t> values);
  void set_attribute(std::string_view name, std::span<const std::string> values);

  // Reads an attribute written by us or by another tool (h5py: fixed- or
  // variable-length strings, any integer or float width). Numbers convert only
  // without loss; a scalar reads from a one-element array.
  template <AttributeValue T>
  T attribute(std::string_view name) const;
  bool has_attribute(std::string_view name) const;
  std::vector<std::string> attribute_names() const;  // creation order is not tracked: sorted

 protected:
  Object(Handle handle, std::shared_ptr<const std::string> file_name, std::string path);
  Handle handle_;
  std::shared_ptr<const std::string> file_name_;
  std::string path_;
};

// A dataset opened for its shape, type, attributes or data.
class Dataset : public Object {
 public:
  Shape shape() const;
  std::int64_t size() const;  // product of the shape
  // The stored element type: "float32", "float64", "int8" ... "uint64", "string",
  // or the HDF5 class name ("compound", "enum", ...) for types we do not read.
  std::string element_type() const;
  // Reads the whole dataset into T (lossless conversion only, see attribute()).
  template <Element T>
  Array<T> read() const;

 private:
  friend class Group;
  using Object::Object;
};

class Group : public Object {
 public:
  // Paths are relative to this group, with "/" separating levels ("a/b/c");
  // an absolute path ("/a") starts at the file's root.
  // Creates the group and any missing parents; an error if it already exists.
  Group create_group(std::string_view path);
  // Opens an existing group, or creates it (and its parents).
  Group require_group(std::string_view path);
  Group open_group(std::string_view path) const;
  Dataset open_dataset(std::string_view path) const;
  // True when every component of `path` exists (a group, dataset or link).
  bool exists(std::string_view path) const;
  bool is_group(std::string_view path) const;
  bool is_dataset(std::string_view path) const;
  // Names of the direct children, sorted.
  std::vector<std::string> children() const;

  // Writes a new dataset of `shape` (C order; values.size() must equal the
  // product of shape). The one-argument form writes a 1-D array. Parent
  // groups in `path` are created.
  template <Element T>
  Dataset write(std::string_view path, std::span<const T> values, const Shape& shape,
                const DatasetOptions& options = {});
  template <Element T>
  Dataset write(std::string_view path, std::span<const T> values, const DatasetOptions& options = {}) {
    return write<T>(path, values, Shape{static_cast<std::int64_t>(values.size())}, options);
  }
  template <Element T>
  Dataset write(std::string_view path, const std::vector<T>& values, const DatasetOptions& options = {}) {
    return write<T>(path, std::span<const T>(values), options);
  }
  template <Element T>
  Dataset write(std::string_view path, const std::vector<T>& values, const Shape& shape,
                const DatasetOptions& options = {}) {
    return write<T>(path, std::span<const T>(values), shape, options);
  }

  // Creates an external link `path` -> `object_path` inside `target_file`
  // (H5Lcreate_external). A relative `target_file` is resolved by HDF5
  // relative to this file's directory first, so a results file and the files
  // it links to can move together. Parent groups are created; an error if
  // `path` exists.
  void link_external(std::string_view path, const std::string& target_file, std::string_view object_path);
  // Removes the link `path` (a group with everything under it, or a dataset).
  // The space is not reclaimed inside the file; rewrite the file to shrink it.
  void remove(std::string_view path);

  template <Element T>
  Array<T> read(std::string_view path) const {
    return open_dataset(path).read<T>();
  }
  // A 1-D (or scalar) dataset as a vector; an error for higher ranks.
  template <Element T>
  std::vector<T> read_vector(std::string_view path) const;

 private:
  friend class File;
  using Object::Object;
};

// An HDF5 file. Its root group is root(); closing happens in the destructor or
// in close()/commit(). Closing is "strong": groups and datasets still open in
// this file are closed with it, and using them afterwards throws IoError.
class File {
 public:
  // Creates (truncating an existing file) and opens for writing.
  static File create(const std::filesystem::path& path);
  // Creates `path.tmp.<pid>.<random>` beside `path`. Nothing appears at `path`
  // until commit(), which closes the file, flushes it to disk and renames it
  // into place (replacing an older file). Destroying the File without commit()
  // deletes the temporary file.
  static File create_atomic(const std::filesystem::path& path);
  // Opens a copy of the existing file at `path` in memory, for changing it
  // atomically: commit() writes the changed file to a temporary name beside
  // `path` and renames it over the original, exactly as for create_atomic (so
  // a full disk is an IoError, never a crashed HDF5 close); destroying the File
  // without commit() leaves the original untouched.
  static File edit_atomic(const std::filesystem::path& path);
  static File open_read_only(const std::filesystem::path& path);
  static File open_read_write(const std::filesystem::path& path);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  Group& root() { return root_; }
  const Group& root() const { return root_; }
  // The path a reader will see (the final path for an atomic file).
  const std::filesystem::path& path() const { return final_path_; }
  // Where bytes are being written now (differs from path() before commit()).
  const std::filesystem::path& write_path() const { return write_path_; }
  bool is_open() const { return file_.valid(); }

  // Closes a non-atomic file; a no-op once closed.
  void close();
  // Closes an atomic file and renames it into place. An error for a file that
  // was not made by create_atomic or edit_atomic, or was already committed.
  void commit();

 private:
  File(Handle file, Group root, std::filesystem::path final_path, std::filesystem::path write_path, bool atomic);
  static File open_existing(const std::filesystem::path& path, bool writable);
  void discard() noexcept;
  Handle file_;  // declared before root_: the root group closes first
  Group root_;
  std::filesystem::path final_path_;
  std::filesystem::path write_path_;
  bool atomic_ = false;  // true until commit() for create_atomic files
};

// True for the names create_atomic uses for its temporary files, so that
// status/cleanup code can recognise leftovers of a killed writer.
bool is_atomic_temporary(const std::filesystem::path& path);

// ---------------------------------------------------------------- tables
//
// A table is a group holding one 1-D dataset per column, all of the same
// length, with group attributes "columns" (column names in order),
// "column_units" (same order) and "num_rows"; each column dataset carries
// "units" and "description". docs/hdf5-schema.md shows the pandas one-liner.

using ColumnValues = std::variant<std::vector<double>, std::vector<float>, std::vector<std::int64_t>,
                                  std::vector<std::int32_t>, std::vector<std::uint8_t>, std::vector<std::string>>;

struct Column {
  std::string name;
  ColumnValues values;
  std::string units;
  std::string description;
  std::int64_t size() const;
};

class Table {
 public:
  // Appends a column; all columns must have the same length (checked here).
  Table& add(std::string name, ColumnValues values, std::string units = "", std::string description = "");
  const std::vector<Column>& columns() const { return columns_; }
  std::int64_t num_rows() const { return columns_.empty() ? 0 : columns_.front().size(); }
  bool has(std::string_view name) const;
  const Column& column(std::string_view name) const;
  // The values of a column of element type T; InputError if the type differs.
  template <typename T>
  const std::vector<T>& values(std::string_view name) const;
  // Name -> values, for callers that want a plain map.
  std::map<std::string, ColumnValues> column_map() const;

 private:
  [[noreturn]] static void throw_column_type_mismatch(const Column& column, std::string_view requested);
  std::vector<Column> columns_;
};

template <typename T>
const std::vector<T>& Table::values(std::string_view name) const {
  const Column& found = column(name);
  const auto* typed = std::get_if<std::vector<T>>(&found.values);
  if (typed == nullptr) throw_column_type_mismatch(found, element_name<T>());
  return *typed;
}

void write_table(Group& parent, std::string_view name, const Table& table, std::string_view description = "");
Table read_table(const Group& parent, std::string_view name);

// The number of HDF5 files and objects open in this process (all files). Zero
// between uses of the layer; tests use it to prove that no handle leaks.
std::int64_t open_hdf5_object_count();

// Switches HDF5's own printing of its error stack to stderr (off by default;
// our exceptions carry the relevant line). Useful when debugging HDF5 itself.
void set_hdf5_error_printing(bool enabled);

}  // namespace llcpress::io
