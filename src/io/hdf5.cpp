#include "io/hdf5.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <new>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include "io/check_hdf5.h"
#include "io/schema.h"

namespace llcpress::io {

static_assert(std::is_same_v<Hid, hid_t>, "io::Hid must be HDF5's hid_t (64-bit since HDF5 1.10)");

namespace fs = std::filesystem;

namespace {

bool g_print_hdf5_errors = false;

// Growth step of the in-memory image of an atomic file (create_atomic).
constexpr std::size_t kCoreIncrementBytes = 1 << 20;

// Called by every way into a file, so it holds whatever ran before us.
void prepare_library() {
  H5open();
  if (g_print_hdf5_errors)
    H5Eset_auto2(H5E_DEFAULT, reinterpret_cast<H5E_auto2_t>(H5Eprint2), stderr);
  else
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

// Deflate is an optional filter of HDF5 builds; Debian's has it, but a
// hand-built library may not, and then we store uncompressed.
bool deflate_available() {
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) return false;
  unsigned config = 0;
  if (H5Zget_filter_info(H5Z_FILTER_DEFLATE, &config) < 0) return false;
  return (config & H5Z_FILTER_CONFIG_ENCODE_ENABLED) != 0;
}

constexpr unsigned kDeflateLevel = 4;  // gzip 4: most of level 9's ratio on float data at a fraction of the time
// Below this, a chunk index costs more than compression saves and contiguous
// data is simpler for every reader.
constexpr std::size_t kAutomaticCompressionBytes = 64 * 1024;
// Chunks of about 1 MiB: large enough for deflate, small enough that reading a
// slice does not inflate the whole array (h5py's heuristic aims at the same size).
constexpr std::size_t kTargetChunkBytes = 1024 * 1024;

// ---------------------------------------------------------------- paths

// "a//b/./c/" -> {"a", "b", "c"}. ".." is refused: HDF5 has no parent links, so
// it would silently name a child called "..".
std::vector<std::string> split_path(std::string_view path, const std::string& where) {
  std::vector<std::string> components;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view component = path.substr(start, end - start);
    LLC_CHECK(component != "..", InputError, where, "give the path from the file's root (\"/a/b\") instead",
              "'..' is not supported in HDF5 paths");
    if (!component.empty() && component != ".") components.emplace_back(component);
    start = end + 1;
  }
  return components;
}

std::string join_components(const std::vector<std::string>& components, std::size_t count) {
  std::string joined;
  for (std::size_t i = 0; i < count; ++i) joined += "/" + components[i];
  return joined.empty() ? "/" : joined;
}

// The lexical absolute path of `path` seen from the object at `base`.
std::string absolute_path(const std::string& base, std::string_view path) {
  if (!path.empty() && path.front() == '/') return std::string(path);
  // Appending (rather than "/" + ...) also avoids GCC 12's false -Wrestrict on operator+.
  std::string joined = base;
  if (joined.back() != '/') joined += '/';
  joined.append(path);
  return joined;
}

// absolute_path() in canonical form ("/a/b", "/" for the root); validates it.
std::string canonical_path(const std::string& file_name, const std::string& base, std::string_view path) {
  const std::string absolute = absolute_path(base, path);
  std::vector<std::string> components = split_path(absolute, file_name + ":" + absolute);
  return join_components(components, components.size());
}

std::string attribute_where(const Object& object, std::string_view name) {
  return fmt::format("{} (attribute '{}')", object.where(), name);
}

// ---------------------------------------------------------------- types

template <Element T>
hid_t memory_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
}

// Files are written little-endian whatever the host, so they compare byte for byte.
template <Element T>
hid_t file_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_IEEE_F32LE;
  if constexpr (std::is_same_v<T, double>) return H5T_IEEE_F64LE;
  if constexpr (std::is_same_v<T, std::int32_t>) return H5T_STD_I32LE;
  if constexpr (std::is_same_v<T, std::int64_t>) return H5T_STD_I64LE;
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_STD_U8LE;
}

Handle variable_string_type(H5T_cset_t character_set, const std::string& where) {
  Handle type(LLC_CHECK_HDF5(H5Tcopy(H5T_C_S1), where));
  LLC_CHECK_HDF5(H5Tset_size(type.get(), H5T_VARIABLE), where);
  LLC_CHECK_HDF5(H5Tset_cset(type.get(), character_set), where);
  return type;
}

struct StoredType {
  H5T_class_t type_class = H5T_NO_CLASS;
  std::size_t size = 0;  // bytes per element (for variable strings: of the handle)
  bool is_signed = false;
  std::size_t precision = 0;  // significant bits of an integer
  bool variable_string = false;
  H5T_cset_t character_set = H5T_CSET_ASCII;
  H5T_str_t padding = H5T_STR_NULLTERM;
};

StoredType describe_type(hid_t type, const std::string& where) {
  StoredType stored;
  stored.type_class = LLC_CHECK_HDF5(H5Tget_class(type), where);
  stored.size = H5Tget_size(type);
  LLC_CHECK(stored.size > 0, IoError, where, LLC_HDF5_DEFAULT_HINT, "stored element type has size 0");
  if (stored.type_class == H5T_INTEGER) {
    stored.is_signed = LLC_CHECK_HDF5(H5Tget_sign(type), where) == H5T_SGN_2;
    stored.precision = H5Tget_precision(type);
  }
  if (stored.type_class == H5T_STRING) {
    stored.variable_string = LLC_CHECK_HDF5(H5Tis_variable_str(type), where) > 0;
    stored.character_set = LLC_CHECK_HDF5(H5Tget_cset(type), where);
    stored.padding = LLC_CHECK_HDF5(H5Tget_strpad(type), where);
  }
  return stored;
}

std::string type_name(const StoredType& stored) {
  switch (stored.type_class) {
    case H5T_INTEGER:
      return fmt::format("{}int{}", stored.is_signed ? "" : "u", 8 * stored.size);
    case H5T_FLOAT:
      return fmt::format("float{}", 8 * stored.size);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_REFERENCE:
      return "reference";
    case H5T_VLEN:
      return "vlen";
    case H5T_ARRAY:
      return "array";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

// Whether HDF5's conversion from `stored` to T keeps every value exactly.
template <Element T>
bool converts_losslessly(const StoredType& stored) {
  if constexpr (std::is_same_v<T, std::string>) {
    return stored.type_class == H5T_STRING;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (stored.type_class == H5T_FLOAT) return stored.size <= sizeof(T);
    // An integer is exact in a float type when it fits the significand.
    if (stored.type_class == H5T_INTEGER)
      return stored.precision <= static_cast<std::size_t>(std::numeric_limits<T>::digits);
    return false;
  } else {
    if (stored.type_class != H5T_INTEGER) return false;
    if (std::is_signed_v<T>) return stored.is_signed ? stored.size <= sizeof(T) : stored.size < sizeof(T);
    return !stored.is_signed && stored.size <= sizeof(T);
  }
}

// A dataset or an attribute: the two things we read values from.
struct ValueSource {
  hid_t id;
  bool is_attribute;
  std::string where;

  Handle type() const {
    return Handle(is_attribute ? LLC_CHECK_HDF5(H5Aget_type(id), where) : LLC_CHECK_HDF5(H5Dget_type(id), where));
  }
  Handle space() const {
    return Handle(is_attribute ? LLC_CHECK_HDF5(H5Aget_space(id), where) : LLC_CHECK_HDF5(H5Dget_space(id), where));
  }
  void read(hid_t memory, void* buffer) const {
    if (is_attribute)
      LLC_CHECK_HDF5(H5Aread(id, memory, buffer), where);
    else
      LLC_CHECK_HDF5(H5Dread(id, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer), where);
  }
};

Shape read_shape(hid_t space, const std::string& where) {
  H5S_class_t space_class = H5Sget_simple_extent_type(space);
  if (space_class == H5S_SCALAR) return {};
  if (space_class == H5S_NULL) return {0};  // h5py's Empty: no values at all
  LLC_CHECK(space_class == H5S_SIMPLE, IoError, where, LLC_HDF5_DEFAULT_HINT, "unreadable dataspace: {}",
            hdf5_detail::take_error_stack_message());
  int rank = LLC_CHECK_HDF5(H5Sget_simple_extent_ndims(space), where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  LLC_CHECK_HDF5(H5Sget_simple_extent_dims(space, dims.data(), nullptr), where);
  Shape shape;
  for (hsize_t dim : dims) {
    LLC_CHECK(dim <= static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max()), IoError, where,
              LLC_HDF5_DEFAULT_HINT, "dimension {} is out of range (corrupt file?)", dim);
    shape.push_back(static_cast<std::int64_t>(dim));
  }
  return shape;
}

// The number of elements of `shape`, refusing products that overflow.
std::int64_t element_count(const Shape& shape, const std::string& where) {
  std::int64_t count = 1;
  for (std::int64_t dim : shape) {
    LLC_CHECK(dim >= 0, InputError, where, "dimensions are counts: use 0 for an empty axis",
              "negative dimension {} in shape", dim);
    LLC_CHECK(!__builtin_mul_overflow(count, dim, &count), IoError, where, LLC_HDF5_DEFAULT_HINT,
              "shape has more than 2^63 elements (corrupt file?)");
  }
  return count;
}

template <typename Vector>
void allocate(Vector& values, std::int64_t count, const std::string& where) {
  try {
    values.resize(static_cast<std::size_t>(count));
  } catch (const std::bad_alloc&) {
    LLC_THROW(IoError, where, "read it in pieces, or check that the file is not corrupt",
              "{} elements do not fit in memory", count);
  } catch (const std::length_error&) {
    LLC_THROW(IoError, where, "read it in pieces, or check that the file is not corrupt",
              "{} elements do not fit in memory", count);
  }
}

void reclaim_variable_strings(hid_t memory, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(memory, space, H5P_DEFAULT, buffer);
#else
  H5Dvlen_reclaim(memory, space, H5P_DEFAULT, buffer);
#endif
}

template <Element T>
std::vector<T> read_values(const ValueSource& source, std::int64_t count) {
  Handle stored_type = source.type();
  StoredType stored = describe_type(stored_type.get(), source.where);
  LLC_CHECK(converts_losslessly<T>(stored), IoError, source.where,
            "read it with the type it is stored as, or convert after reading",
            "stored as {}, which does not convert to {} without loss", type_name(stored), element_name<T>());
  std::vector<T> values;
  allocate(values, count, source.where);
  if (count == 0) return values;
  if constexpr (std::is_same_v<T, std::string>) {
    if (stored.variable_string) {
      Handle memory = variable_string_type(stored.character_set, source.where);
      std::vector<char*> pointers;  // [count], owned by HDF5 until reclaimed
      allocate(pointers, count, source.where);
      source.read(memory.get(), pointers.data());
      for (std::int64_t i = 0; i < count; ++i)
        if (pointers[i] != nullptr) values[i] = pointers[i];
      Handle space = source.space();
      reclaim_variable_strings(memory.get(), space.get(), pointers.data());
    } else {
      Handle memory(LLC_CHECK_HDF5(H5Tcopy(stored_type.get()), source.where));
      std::vector<char> buffer;  // [count * stored.size]
      std::int64_t bytes = 0;
      LLC_CHECK(!__builtin_mul_overflow(count, static_cast<std::int64_t>(stored.size), &bytes), IoError, source.where,
                LLC_HDF5_DEFAULT_HINT, "string data size overflows");
      allocate(buffer, bytes, source.where);
      source.read(memory.get(), buffer.data());
      for (std::int64_t i = 0; i < count; ++i) {
        std::string_view text(buffer.data() + i * stored.size, stored.size);
        if (stored.padding == H5T_STR_SPACEPAD) {
          text = text.substr(0, text.find_last_not_of(' ') + 1);
        } else {
          text = text.substr(0, text.find('\0'));
        }
        values[i] = std::string(text);
      }
    }
  } else {
    source.read(memory_type<T>(), values.data());
  }
  return values;
}

// Type of the object at absolute `path` (H5I_BADID if it cannot be opened,
// e.g. a dangling soft link).
H5I_type_t object_type(hid_t location, const std::string& path) {
  hid_t object = H5Oopen(location, path.c_str(), H5P_DEFAULT);
  if (object < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  H5I_type_t type = H5Iget_type(object);
  H5Oclose(object);
  return type;
}

std::vector<std::string> link_names(hid_t group, const std::string& where) {
  H5G_info_t info;
  LLC_CHECK_HDF5(H5Gget_info(group, &info), where);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t length =
        LLC_CHECK_HDF5(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT), where);
    std::string name(static_cast<std::size_t>(length) + 1, '\0');
    LLC_CHECK_HDF5(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT),
                   where);
    name.resize(static_cast<std::size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

std::string list_for_hint(const std::vector<std::string>& names) {
  if (names.empty()) return "(nothing)";
  constexpr std::size_t kShown = 12;
  std::string text;
  for (std::size_t i = 0; i < std::min(names.size(), kShown); ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > kShown) text += fmt::format(", ... ({} in all)", names.size());
  return text;
}

// `creating`: the format bounds matter only for files we create; an existing
// file opens whatever format version wrote it.
Handle make_file_access(bool creating) {
  Handle access(LLC_CHECK_HDF5(H5Pcreate(H5P_FILE_ACCESS), "HDF5 file access properties"));
  // Strong close: closing the file closes every object still open in it, so
  // commit() can rename a file that is really complete on disk.
  LLC_CHECK_HDF5(H5Pset_fclose_degree(access.get(), H5F_CLOSE_STRONG), "HDF5 file access properties");
  // The 1.8 file format (readable by every HDF5 since 2008, h5py included)
  // checksums all metadata, so a damaged file fails loudly instead of being
  // misread, and stores large groups in B-trees that stay fast with thousands
  // of shards. The 1.10 format would add nothing we use.
  if (creating)
    LLC_CHECK_HDF5(H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_V18), "HDF5 file access properties");
#if H5_VERSION_GE(1, 10, 7)
  // Keep HDF5's file lock, but do not fail on file systems without flock()
  // (some Lustre/NFS mounts); our atomic rename already keeps readers safe.
  LLC_CHECK_HDF5(H5Pset_file_locking(access.get(), true, true), "HDF5 file access properties");
#endif
  return access;
}

void sync_to_disk(const fs::path& path, bool required) {
  int descriptor = ::open(path.c_str(), O_RDONLY);
  bool ok = descriptor >= 0 && ::fsync(descriptor) == 0;
  int saved_errno = errno;
  if (descriptor >= 0) ::close(descriptor);
  LLC_CHECK(ok || !required, IoError, path.string(), "check the disk (full? read-only?) and rerun",
            "could not flush to disk: {}", std::strerror(saved_errno));
}

// Bob Jenkins' lookup3 hash (hashlittle, byte-wise, initial value 0): the
// checksum HDF5 stores after every 1.8-format metadata object.
std::uint32_t lookup3_checksum(const unsigned char* k, std::size_t length) {
  auto rot = [](std::uint32_t x, int bits) { return (x << bits) | (x >> (32 - bits)); };
  auto word = [](const unsigned char* p, std::size_t count) {  // little-endian, `count` <= 4 bytes
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < count; ++i) value += static_cast<std::uint32_t>(p[i]) << (8 * i);
    return value;
  };
  std::uint32_t a, b, c;
  a = b = c = 0xdeadbeefu + static_cast<std::uint32_t>(length);
  while (length > 12) {
    a += word(k, 4), b += word(k + 4, 4), c += word(k + 8, 4);
    a -= c, a ^= rot(c, 4), c += b, b -= a, b ^= rot(a, 6), a += c, c -= b, c ^= rot(b, 8), b += a;
    a -= c, a ^= rot(c, 16), c += b, b -= a, b ^= rot(a, 19), a += c, c -= b, c ^= rot(b, 4), b += a;
    length -= 12, k += 12;
  }
  if (length == 0) return c;
  a += word(k, std::min<std::size_t>(length, 4));
  if (length > 4) b += word(k + 4, std::min<std::size_t>(length - 4, 4));
  if (length > 8) c += word(k + 8, length - 8);
  c ^= b, c -= rot(b, 14), a ^= c, a -= rot(c, 11), b ^= a, b -= rot(a, 25), c ^= b, c -= rot(b, 16);
  a ^= c, a -= rot(c, 4), b ^= a, b -= rot(a, 14), c ^= b, c -= rot(b, 24);
  return c;
}

// HDF5 1.10.8's H5Fget_file_image clears the "open for writing" bit of a
// version 2/3 superblock in the image but leaves the checksum computed with it
// set, so the image does not open ("incorrect metadata checksum"). The
// superblock is re-checksummed here when (and only when) its checksum is wrong.
// Layout (HDF5 file format spec, superblock v2/v3): signature 8, version,
// size of offsets O, size of lengths, flags, then 4 addresses of O bytes and
// the 4-byte checksum of everything before it.
void repair_superblock_checksum(std::vector<char>& image) {
  auto* bytes = reinterpret_cast<unsigned char*>(image.data());
  if (image.size() < 12 || std::memcmp(bytes, "\211HDF\r\n\032\n", 8) != 0) return;
  if (bytes[8] != 2 && bytes[8] != 3) return;
  const std::size_t covered = 12 + 4 * static_cast<std::size_t>(bytes[9]);
  if (image.size() < covered + 4) return;
  const std::uint32_t computed = lookup3_checksum(bytes, covered);
  std::uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= static_cast<std::uint32_t>(bytes[covered + i]) << (8 * i);
  if (stored == computed) return;
  for (int i = 0; i < 4; ++i) bytes[covered + i] = static_cast<unsigned char>(computed >> (8 * i));
}

// Writes `bytes` as the whole content of `path` (an existing file, truncated).
// IoError with the system's reason (disk full, quota, file size limit).
void write_whole_file(const fs::path& path, const std::vector<char>& bytes) {
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  LLC_CHECK(descriptor >= 0, IoError, path.string(), "check the disk (full? read-only?) and rerun",
            "cannot open for writing: {}", std::strerror(errno));
  std::size_t written = 0;
  int saved_errno = 0;
  while (written < bytes.size()) {
    const ssize_t got = ::write(descriptor, bytes.data() + written, bytes.size() - written);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      saved_errno = got < 0 ? errno : EIO;
      break;
    }
    written += static_cast<std::size_t>(got);
  }
  ::close(descriptor);
  LLC_CHECK(written == bytes.size(), IoError, path.string(), "check the disk (full? over quota?) and rerun",
            "could not write {} bytes (wrote {}): {}", bytes.size(), written, std::strerror(saved_errno));
}

std::string random_suffix() {
  // Only names a temporary file; nothing computed depends on it.
  std::random_device device;
  return fmt::format("{:08x}", static_cast<std::uint32_t>(device()));
}

}  // namespace

std::int64_t open_hdf5_object_count() {
  prepare_library();
  return static_cast<std::int64_t>(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
}

void set_hdf5_error_printing(bool enabled) {
  g_print_hdf5_errors = enabled;
  prepare_library();
}

// ---------------------------------------------------------------- Handle

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ < 0) return;
  hid_t id = id_;
  id_ = -1;
  if (H5Iis_valid(id) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return;
  }
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      H5Fclose(id);
      break;
    case H5I_GROUP:
      H5Gclose(id);
      break;
    case H5I_DATASET:
      H5Dclose(id);
      break;
    case H5I_DATASPACE:
      H5Sclose(id);
      break;
    case H5I_DATATYPE:
      H5Tclose(id);
      break;
    case H5I_ATTR:
      H5Aclose(id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id);
      break;
    default:
      H5Idec_ref(id);
      break;
  }
  H5Eclear2(H5E_DEFAULT);  // a failed close in a destructor has nowhere to go
}

// ---------------------------------------------------------------- Object

Object::Object(Handle handle, std::shared_ptr<const std::string> file_name, std::string path)
    : handle_(std::move(handle)), file_name_(std::move(file_name)), path_(std::move(path)) {}

std::string Object::where() const { return *file_name_ + ":" + path_; }
std::string Object::where(std::string_view child) const { return *file_name_ + ":" + absolute_path(path_, child); }

namespace {

void check_attribute_name(const Object& object, std::string_view name) {
  LLC_CHECK(!name.empty(), InputError, object.where(), "give the attribute a name", "empty attribute name");
}

void write_attribute(const Object& object, std::string_view name, hid_t stored_type, hid_t memory_type, hid_t space,
                     const void* data) {
  check_attribute_name(object, name);
  const std::string where = attribute_where(object, name);
  const std::string name_text(name);
  if (LLC_CHECK_HDF5(H5Aexists(object.id(), name_text.c_str()), where) > 0)
    LLC_CHECK_HDF5(H5Adelete(object.id(), name_text.c_str()), where);
  Handle attribute(
      LLC_CHECK_HDF5_HINT(H5Acreate2(object.id(), name_text.c_str(), stored_type, space, H5P_DEFAULT, H5P_DEFAULT),
                          where, "attributes are for small metadata (under 64 KiB); store large arrays as datasets"));
  // HDF5 refuses a null buffer even for zero elements (an empty std::vector's data()).
  if (LLC_CHECK_HDF5(H5Sget_simple_extent_npoints(space), where) > 0)
    LLC_CHECK_HDF5(H5Awrite(attribute.get(), memory_type, data), where);
}

Handle vector_space(std::size_t size, const std::string& where) {
  hsize_t dims[1] = {static_cast<hsize_t>(size)};
  return Handle(LLC_CHECK_HDF5(H5Screate_simple(1, dims, nullptr), where));
}

std::vector<const char*> c_strings(std::span<const std::string> values, const std::string& where) {
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& value : values) {
    // A variable-length HDF5 string ends at its first NUL: refuse rather than truncate.
    LLC_CHECK(value.find('\0') == std::string::npos, InputError, where, "store binary data as a uint8 dataset instead",
              "string contains a NUL byte");
    pointers.push_back(value.c_str());
  }
  return pointers;
}

}  // namespace

void Object::set_attribute(std::string_view name, std::string_view value) {
  const std::string where = attribute_where(*this, name);
  std::string text(value);
  auto pointers = c_strings(std::span<const std::string>(&text, 1), where);
  Handle type = variable_string_type(H5T_CSET_UTF8, where);
  Handle space(LLC_CHECK_HDF5(H5Screate(H5S_SCALAR), where));
  write_attribute(*this, name, type.get(), type.get(), space.get(), pointers.data());
}

void Object::set_attribute(std::string_view name, double value) {
  Handle space(LLC_CHECK_HDF5(H5Screate(H5S_SCALAR), where()));
  write_attribute(*this, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.get(), &value);
}

void Object::set_attribute(std::string_view name, std::int64_t value) {
  Handle space(LLC_CHECK_HDF5(H5Screate(H5S_SCALAR), where()));
  write_attribute(*this, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), &value);
}

void Object::set_attribute(std::string_view name, std::span<const double> values) {
  Handle space = vector_space(values.size(), where());
  write_attribute(*this, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space.get(), values.data());
}

void Object::set_attribute(std::string_view name, std::span<const std::int64_t> values) {
  Handle space = vector_space(values.size(), where());
  write_attribute(*this, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space.get(), values.data());
}

void Object::set_attribute(std::string_view name, std::span<const std::string> values) {
  const std::string where = attribute_where(*this, name);
  auto pointers = c_strings(values, where);
  Handle type = variable_string_type(H5T_CSET_UTF8, where);
  Handle space = vector_space(values.size(), where);
  write_attribute(*this, name, type.get(), type.get(), space.get(), pointers.data());
}

bool Object::has_attribute(std::string_view name) const {
  check_attribute_name(*this, name);
  return LLC_CHECK_HDF5(H5Aexists(id(), std::string(name).c_str()), attribute_where(*this, name)) > 0;
}

std::vector<std::string> Object::attribute_names() const {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t position = 0;
  LLC_CHECK_HDF5(H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &position, collect, &names), where());
  std::sort(names.begin(), names.end());
  return names;
}

template <AttributeValue T>
T Object::attribute(std::string_view name) const {
  const std::string where = attribute_where(*this, name);
  LLC_CHECK(has_attribute(name), IoError, where,
            fmt::format("attributes present: {}", list_for_hint(attribute_names())), "no such attribute");
  Handle attribute(LLC_CHECK_HDF5(H5Aopen(id(), std::string(name).c_str(), H5P_DEFAULT), where));
  ValueSource source{attribute.get(), true, where};
  Handle space = source.space();
  Shape shape = read_shape(space.get(), where);
  std::int64_t count = element_count(shape, where);
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>) {
    LLC_CHECK(count == 1, IoError, where, "read it as a std::vector", "holds {} values, expected one", count);
    return read_values<T>(source, count).front();
  } else {
    LLC_CHECK(shape.size() <= 1, IoError, where, "only scalar and 1-D attributes are read", "attribute has rank {}",
              shape.size());
    return read_values<typename T::value_type>(source, count);
  }
}

template std::string Object::attribute<std::string>(std::string_view) const;
template double Object::attribute<double>(std::string_view) const;
template std::int64_t Object::attribute<std::int64_t>(std::string_view) const;
template std::vector<double> Object::attribute<std::vector<double>>(std::string_view) const;
template std::vector<std::int64_t> Object::attribute<std::vector<std::int64_t>>(std::string_view) const;
template std::vector<std::string> Object::attribute<std::vector<std::string>>(std::string_view) const;

// ---------------------------------------------------------------- Dataset

Shape Dataset::shape() const {
  Handle space(LLC_CHECK_HDF5(H5Dget_space(id()), where()));
  return read_shape(space.get(), where());
}

std::int64_t Dataset::size() const { return element_count(shape(), where()); }

std::string Dataset::element_type() const {
  Handle type(LLC_CHECK_HDF5(H5Dget_type(id()), where()));
  return type_name(describe_type(type.get(), where()));
}

template <Element T>
Array<T> Dataset::read() const {
  Array<T> array;
  array.shape = shape();
  array.values = read_values<T>(ValueSource{id(), false, where()}, element_count(array.shape, where()));
  return array;
}

// ---------------------------------------------------------------- Group

bool Group::exists(std::string_view path) const {
  const std::string absolute = absolute_path(path_, path);
  std::vector<std::string> components = split_path(absolute, where(path));
  for (std::size_t depth = 1; depth <= components.size(); ++depth) {
    const std::string prefix = join_components(components, depth);
    // H5Lexists fails (rather than answering false) when a parent is missing,
    // so walk down one level at a time.
    if (LLC_CHECK_HDF5(H5Lexists(id(), prefix.c_str(), H5P_DEFAULT), where(prefix)) <= 0) return false;
    if (depth < components.size() && object_type(id(), prefix) != H5I_GROUP) return false;
  }
  return true;
}

bool Group::is_group(std::string_view path) const {
  return exists(path) && object_type(id(), canonical_path(file_name(), path_, path)) == H5I_GROUP;
}

bool Group::is_dataset(std::string_view path) const {
  return exists(path) && object_type(id(), canonical_path(file_name(), path_, path)) == H5I_DATASET;
}

std::vector<std::string> Group::children() const { return link_names(id(), where()); }

namespace {

// Explains which component of `absolute` is missing and what its parent holds.
[[noreturn]] void throw_missing(const Group& group, const std::string& absolute, std::string_view kind) {
  const std::string where = group.file_name() + ":" + absolute;
  std::vector<std::string> components = split_path(absolute, where);
  std::size_t depth = 0;
  while (depth < components.size() && group.is_group(join_components(components, depth + 1))) ++depth;
  const std::string deepest = join_components(components, depth);
  std::vector<std::string> present;
  if (depth < components.size() && !group.exists(join_components(components, depth + 1)))
    present = group.open_group(deepest).children();
  LLC_THROW(IoError, where,
            present.empty() ? std::string(LLC_HDF5_DEFAULT_HINT)
                            : fmt::format("'{}' holds: {}", deepest, list_for_hint(present)),
            "no {} at this path", kind);
}

}  // namespace

Group Group::open_group(std::string_view path) const {
  const std::string absolute = canonical_path(file_name(), path_, path);
  const std::string where = file_name() + ":" + absolute;
  if (!exists(absolute)) throw_missing(*this, absolute, "group");
  LLC_CHECK(object_type(id(), absolute) == H5I_GROUP, IoError, where, "open it with open_dataset()",
            "this is a dataset, not a group");
  Handle group(LLC_CHECK_HDF5(H5Gopen2(id(), absolute.c_str(), H5P_DEFAULT), where));
  return Group(std::move(group), file_name_, absolute);
}

Dataset Group::open_dataset(std::string_view path) const {
  const std::string absolute = canonical_path(file_name(), path_, path);
  const std::string where = file_name() + ":" + absolute;
  if (!exists(absolute)) throw_missing(*this, absolute, "dataset");
  LLC_CHECK(object_type(id(), absolute) == H5I_DATASET, IoError, where, "open it with open_group()",
            "this is a group, not a dataset");
  Handle dataset(LLC_CHECK_HDF5(H5Dopen2(id(), absolute.c_str(), H5P_DEFAULT), where));
  return Dataset(std::move(dataset), file_name_, absolute);
}

namespace {

// Creating with intermediate groups lets "a/b/c" appear in one call.
Handle intermediate_link_creation(const std::string& where) {
  Handle properties(LLC_CHECK_HDF5(H5Pcreate(H5P_LINK_CREATE), where));
  LLC_CHECK_HDF5(H5Pset_create_intermediate_group(properties.get(), 1), where);
  return properties;
}

void check_new_name(const std::string& absolute, const std::string& where) {
  LLC_CHECK(absolute != "/", InputError, where, "give the new object a name", "the root group exists already");
}

}  // namespace

Group Group::create_group(std::string_view path) {
  const std::string absolute = canonical_path(file_name(), path_, path);
  const std::string where = file_name() + ":" + absolute;
  check_new_name(absolute, where);
  LLC_CHECK(!exists(absolute), IoError, where, "use require_group() to open a group that may exist",
            "an object with this name exists already");
  Handle link_creation = intermediate_link_creation(where);
  Handle group(
      LLC_CHECK_HDF5(H5Gcreate2(id(), absolute.c_str(), link_creation.get(), H5P_DEFAULT, H5P_DEFAULT), where));
  return Group(std::move(group), file_name_, absolute);
}

void Group::link_external(std::string_view path, const std::string& target_file, std::string_view object_path) {
  const std::string to = canonical_path(file_name(), path_, path);
  const std::string where = file_name() + ":" + to;
  check_new_name(to, where);
  LLC_CHECK(!exists(to), IoError, where, "link to a new name", "an object with this name exists already");
  Handle link_creation = intermediate_link_creation(where);
  const std::string target(object_path);
  LLC_CHECK_HDF5(
      H5Lcreate_external(target_file.c_str(), target.c_str(), id(), to.c_str(), link_creation.get(), H5P_DEFAULT),
      where);
}

void Group::remove(std::string_view path) {
  const std::string target = canonical_path(file_name(), path_, path);
  const std::string where = file_name() + ":" + target;
  LLC_CHECK(exists(target), IoError, where, "check the name with h5ls -r", "nothing to remove: no such object");
  LLC_CHECK_HDF5(H5Ldelete(id(), target.c_str(), H5P_DEFAULT), where);
}

Group Group::require_group(std::string_view path) {
  const std::string absolute = canonical_path(file_name(), path_, path);
  return exists(absolute) ? open_group(absolute) : create_group(absolute);
}

namespace {

// Halves leading dimensions first, so that a chunk keeps whole rows as long
// as a row fits the target size (reading rows then touches few chunks).
std::vector<hsize_t> chunk_dimensions(const std::vector<hsize_t>& dims, std::size_t element_bytes) {
  std::vector<hsize_t> chunk = dims;
  auto chunk_bytes = [&] {
    std::size_t bytes = element_bytes;
    for (hsize_t dim : chunk) bytes *= dim;
    return bytes;
  };
  for (std::size_t axis = 0; axis < chunk.size(); ++axis)
    while (chunk_bytes() > kTargetChunkBytes && chunk[axis] > 1) chunk[axis] = (chunk[axis] + 1) / 2;
  return chunk;
}

}  // namespace

template <Element T>
Dataset Group::write(std::string_view path, std::span<const T> values, const Shape& shape,
                     const DatasetOptions& options) {
  const std::string absolute = canonical_path(file_name(), path_, path);
  const std::string where = file_name() + ":" + absolute;
  check_new_name(absolute, where);
  const std::int64_t count = element_count(shape, where);
  LLC_CHECK(count == static_cast<std::int64_t>(values.size()), InputError, where,
            "the shape lists the dimensions in C order; their product must equal the number of values",
            "shape [{}] holds {} values but {} were given", fmt::join(shape, ", "), count, values.size());
  LLC_CHECK(!exists(absolute), IoError, where, "a dataset is written once: choose a new name",
            "an object with this name exists already");

  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(shape.empty()
                   ? LLC_CHECK_HDF5(H5Screate(H5S_SCALAR), where)
                   : LLC_CHECK_HDF5(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where));
  Handle creation(LLC_CHECK_HDF5(H5Pcreate(H5P_DATASET_CREATE), where));
  constexpr bool is_string = std::is_same_v<T, std::string>;
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
  bool compress = false;
  if (options.compression == Compression::Deflate) {
    LLC_CHECK(!is_string && !shape.empty() && count > 0, InputError, where,
              "use Compression::Automatic or None for this dataset",
              "deflate needs a non-empty numeric array (strings, scalars and empty arrays are stored as they are)");
    LLC_CHECK(deflate_available(), IoError, where, "use Compression::Automatic, which falls back to no compression",
              "this HDF5 library has no deflate (gzip) encoder");
    compress = true;
  } else if (options.compression == Compression::Automatic) {
    compress = !is_string && !shape.empty() && count > 0 && bytes >= kAutomaticCompressionBytes && deflate_available();
  }
  if (compress) {
    std::vector<hsize_t> chunk = chunk_dimensions(dims, sizeof(T));
    LLC_CHECK_HDF5(H5Pset_chunk(creation.get(), static_cast<int>(chunk.size()), chunk.data()), where);
    // Byte shuffling groups the exponent bytes of floats together, which is
    // what makes deflate effective on them.
    LLC_CHECK_HDF5(H5Pset_shuffle(creation.get()), where);
    LLC_CHECK_HDF5(H5Pset_deflate(creation.get(), kDeflateLevel), where);
    // A checksum per chunk: together with the checksummed metadata of the 1.8
    // format, a damaged file then fails to read instead of returning wrong values.
    LLC_CHECK_HDF5(H5Pset_fletcher32(creation.get()), where);
  }
  Handle link_creation = intermediate_link_creation(where);

  Handle string_type;
  hid_t stored_type = -1;
  hid_t memory = -1;
  if constexpr (is_string) {
    string_type = variable_string_type(H5T_CSET_UTF8, where);
    stored_type = memory = string_type.get();
  } else {
    stored_type = file_type<T>();
    memory = memory_type<T>();
  }
  const void* buffer = values.data();
  std::vector<const char*> pointers;  // [count], views of `values`
  if constexpr (is_string) {
    pointers = c_strings(values, where);  // validates before anything is created
    buffer = pointers.data();
  }
  Handle dataset(LLC_CHECK_HDF5(
      H5Dcreate2(id(), absolute.c_str(), stored_type, space.get(), link_creation.get(), creation.get(), H5P_DEFAULT),
      where));
  if (count > 0) {
    try {
      LLC_CHECK_HDF5(H5Dwrite(dataset.get(), memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer), where);
    } catch (const Error&) {
      // Unlink the half-written dataset so that the name does not look complete.
      dataset.reset();
      H5Ldelete(id(), absolute.c_str(), H5P_DEFAULT);
      H5Eclear2(H5E_DEFAULT);
      throw;
    }
  }
  Dataset result(std::move(dataset), file_name_, absolute);
  if (!options.units.empty()) result.set_attribute(attribute_name::units, options.units);
  if (!options.description.empty()) result.set_attribute(attribute_name::description, options.description);
  return result;
}

template <Element T>
std::vector<T> Group::read_vector(std::string_view path) const {
  Array<T> array = read<T>(path);
  LLC_CHECK(array.shape.size() <= 1, IoError, where(path), "use read<T>() for N-d arrays",
            "expected a 1-D dataset, found shape [{}]", fmt::join(array.shape, ", "));
  return std::move(array.values);
}

#define LLCPRESS_INSTANTIATE_ELEMENT(T)                                                                        \
  template Dataset Group::write<T>(std::string_view, std::span<const T>, const Shape&, const DatasetOptions&); \
  template Array<T> Dataset::read<T>() const;                                                                  \
  template std::vector<T> Group::read_vector<T>(std::string_view) const;
LLCPRESS_INSTANTIATE_ELEMENT(float)
LLCPRESS_INSTANTIATE_ELEMENT(double)
LLCPRESS_INSTANTIATE_ELEMENT(std::int32_t)
LLCPRESS_INSTANTIATE_ELEMENT(std::int64_t)
LLCPRESS_INSTANTIATE_ELEMENT(std::uint8_t)
LLCPRESS_INSTANTIATE_ELEMENT(std::string)
#undef LLCPRESS_INSTANTIATE_ELEMENT

// ---------------------------------------------------------------- File

File::File(Handle file, Group root, fs::path final_path, fs::path write_path, bool atomic)
    : file_(std::move(file)),
      root_(std::move(root)),
      final_path_(std::move(final_path)),
      write_path_(std::move(write_path)),
      atomic_(atomic) {}

File::File(File&& other) noexcept
    : file_(std::move(other.file_)),
      root_(std::move(other.root_)),
      final_path_(std::move(other.final_path_)),
      write_path_(std::move(other.write_path_)),
      atomic_(std::exchange(other.atomic_, false)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    discard();
    file_ = std::move(other.file_);
    root_ = std::move(other.root_);
    final_path_ = std::move(other.final_path_);
    write_path_ = std::move(other.write_path_);
    atomic_ = std::exchange(other.atomic_, false);
  }
  return *this;
}

File::~File() { discard(); }

void File::discard() noexcept {
  root_.handle_.reset();
  file_.reset();
  if (atomic_) {
    std::error_code ignored;
    fs::remove(write_path_, ignored);
    atomic_ = false;
  }
}

namespace {

void check_parent_directory(const fs::path& path) {
  fs::path parent = path.parent_path();
  if (parent.empty()) return;
  std::error_code error;
  LLC_CHECK(fs::is_directory(parent, error), IoError, path.string(), "create the directory first (mkdir -p)",
            "directory '{}' does not exist", parent.string());
}

}  // namespace

File File::create(const fs::path& path) {
  prepare_library();
  check_parent_directory(path);
  Handle access = make_file_access(true);
  Handle file(LLC_CHECK_HDF5_HINT(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), path.string(),
                                  "check that the directory is writable, the disk not full, and that no other "
                                  "process has the file open"));
  auto name = std::make_shared<const std::string>(path.string());
  Handle root(LLC_CHECK_HDF5(H5Gopen2(file.get(), "/", H5P_DEFAULT), *name));
  return File(std::move(file), Group(std::move(root), name, "/"), path, path, false);
}

namespace {

// Reserves `path.tmp.<pid>.<random>` beside `path` (O_EXCL: two writers never
// share one, even with equal pid and suffix) for an atomic file; the bytes go
// into it at commit().
fs::path reserve_temporary(const fs::path& path) {
  fs::path temporary = path;
  temporary += fmt::format(".tmp.{}.{}", ::getpid(), random_suffix());
  const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  LLC_CHECK(descriptor >= 0, IoError, temporary.string(), "check that the directory is writable and the disk not full",
            "cannot create the temporary file: {}", std::strerror(errno));
  ::close(descriptor);
  return temporary;
}

// File access properties of an atomic file: in memory (the core driver), no backing store.
Handle make_core_file_access(bool creating) {
  Handle access = make_file_access(creating);
  LLC_CHECK_HDF5(H5Pset_fapl_core(access.get(), kCoreIncrementBytes, /*backing_store=*/false),
                 "HDF5 file access properties");
  return access;
}

}  // namespace

File File::create_atomic(const fs::path& path) {
  prepare_library();
  check_parent_directory(path);
  LLC_CHECK(!path.filename().empty(), InputError, path.string(), "name a file, not a directory", "no file name");
  const fs::path temporary = reserve_temporary(path);
  try {
    // The file is built in memory (the core driver without a backing store)
    // and written out by commit() with plain POSIX calls. HDF5 therefore never
    // writes to disk itself: when its own flush fails (disk full, quota, file
    // size limit), H5Fclose fails after freeing the file, leaves the id behind,
    // and HDF5's shutdown (atexit, or MPI_Finalize) closes that freed file
    // again: SIGSEGV in H5F__close_cb (issue 20, finding 4). A failed POSIX
    // write is an ordinary IoError.
    Handle access = make_core_file_access(true);
    Handle file(LLC_CHECK_HDF5_HINT(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()),
                                    temporary.string(), "out of memory?"));
    auto name = std::make_shared<const std::string>(path.string());
    Handle root(LLC_CHECK_HDF5(H5Gopen2(file.get(), "/", H5P_DEFAULT), *name));
    return File(std::move(file), Group(std::move(root), name, "/"), path, temporary, true);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
}

File File::edit_atomic(const fs::path& path) {
  prepare_library();
  std::vector<char> image;  // the whole file's bytes
  {
    std::ifstream in(path, std::ios::binary);
    LLC_CHECK(in.good(), IoError, path.string(), "check the path and read permission", "cannot open the file: {}",
              std::strerror(errno));
    image.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    LLC_CHECK(!in.bad(), IoError, path.string(), "check the file system", "read failed");
  }
  const fs::path temporary = reserve_temporary(path);
  try {
    // The same in-memory core file as create_atomic (see there for why HDF5
    // must never write to disk itself), started from the existing file's image.
    Handle access = make_core_file_access(false);
    LLC_CHECK_HDF5(H5Pset_file_image(access.get(), image.data(), image.size()), "HDF5 file image");
    image = {};
    // With a file image, the core driver refuses a name that exists on disk
    // ("file already exists"), and the reserved temporary does: open the
    // image under a name that is never created (no backing store writes it).
    const fs::path image_name = fs::path(temporary.string() + ".image");
    hid_t opened = H5Fopen(image_name.c_str(), H5F_ACC_RDWR, access.get());
    if (opened < 0)
      LLC_THROW(IoError, path.string(),
                "the file is truncated, corrupt or not HDF5 (h5dump -H FILE tells); if llcpress wrote it, rerun the "
                "step that did",
                "cannot open as HDF5 for editing: {}", hdf5_detail::take_error_stack_message());
    Handle file(opened);
    auto name = std::make_shared<const std::string>(path.string());
    Handle root(LLC_CHECK_HDF5(H5Gopen2(file.get(), "/", H5P_DEFAULT), *name));
    return File(std::move(file), Group(std::move(root), name, "/"), path, temporary, true);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
}

File File::open_existing(const fs::path& path, bool writable) {
  prepare_library();
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  LLC_CHECK(fs::exists(status), IoError, path.string(),
            "check the path; an llcpress output appears only once the step that writes it has finished",
            "file not found");
  LLC_CHECK(!fs::is_directory(status), IoError, path.string(), "name the .h5 file inside it",
            "this is a directory, not an HDF5 file");
  Handle access = make_file_access(false);
  hid_t opened = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, access.get());
  if (opened < 0) {
    LLC_THROW(IoError, path.string(),
              "the file is truncated, corrupt or not HDF5 (h5dump -H FILE tells); if llcpress wrote it, rerun the "
              "step that did",
              "cannot open as HDF5{}: {}", writable ? " for writing" : "", hdf5_detail::take_error_stack_message());
  }
  Handle file(opened);
  auto name = std::make_shared<const std::string>(path.string());
  Handle root(LLC_CHECK_HDF5(H5Gopen2(file.get(), "/", H5P_DEFAULT), *name));
  return File(std::move(file), Group(std::move(root), name, "/"), path, path, false);
}

File File::open_read_only(const fs::path& path) { return open_existing(path, false); }
File File::open_read_write(const fs::path& path) { return open_existing(path, true); }

void File::close() {
  LLC_REQUIRE(!atomic_, "close() on an uncommitted atomic file: call commit(), or let the destructor discard it");
  if (!file_.valid()) return;
  root_.handle_.reset();
  LLC_CHECK_HDF5_HINT(H5Fclose(file_.release()), final_path_.string(),
                      "check that the disk is not full; the file may be incomplete");
}

void File::commit() {
  LLC_REQUIRE(atomic_, "commit() on a file that was not made by create_atomic()/edit_atomic() or was committed already");
  try {
    root_.handle_.reset();
    // The in-memory image (create_atomic), complete once flushed.
    LLC_CHECK_HDF5_HINT(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), final_path_.string(), "out of memory?");
    const ssize_t size = H5Fget_file_image(file_.get(), nullptr, 0);
    LLC_CHECK_HDF5_HINT(size, final_path_.string(), "out of memory?");
    std::vector<char> image(static_cast<std::size_t>(size));  // [size] bytes of the HDF5 file
    LLC_CHECK_HDF5_HINT(H5Fget_file_image(file_.get(), image.data(), image.size()), final_path_.string(),
                        "out of memory?");
    repair_superblock_checksum(image);
    // Closing a core file without a backing store writes nothing, so it cannot fail on the disk.
    LLC_CHECK_HDF5_HINT(H5Fclose(file_.release()), final_path_.string(), "the file was not committed");
    write_whole_file(write_path_, image);
    // Data must be on disk before the name is: otherwise a crash after the
    // rename could leave a complete-looking name over incomplete bytes.
    sync_to_disk(write_path_, true);
    std::error_code error;
    fs::rename(write_path_, final_path_, error);
    LLC_CHECK(!error, IoError, final_path_.string(), "check permissions of the directory",
              "could not rename '{}' into place: {}", write_path_.string(), error.message());
  } catch (...) {
    discard();
    throw;
  }
  atomic_ = false;
  write_path_ = final_path_;
  // Persist the directory entry too; best effort, as some file systems refuse
  // fsync on directories and the rename itself is already atomic.
  fs::path directory = final_path_.parent_path();
  sync_to_disk(directory.empty() ? fs::path(".") : directory, false);
}

bool is_atomic_temporary(const fs::path& path) {
  // <name>.tmp.<pid>.<8 hex digits>, as made by create_atomic.
  const std::string name = path.filename().string();
  const std::size_t marker = name.rfind(".tmp.");
  if (marker == std::string::npos || marker == 0) return false;
  const std::string rest = name.substr(marker + 5);
  const std::size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  const std::string pid = rest.substr(0, dot), suffix = rest.substr(dot + 1);
  auto all_of = [](const std::string& text, auto predicate) {
    return std::all_of(text.begin(), text.end(), [&](char c) { return predicate(static_cast<unsigned char>(c)); });
  };
  return all_of(pid, [](unsigned char c) { return std::isdigit(c) != 0; }) && suffix.size() == 8 &&
         all_of(suffix, [](unsigned char c) { return std::isdigit(c) != 0 || (c >= 'a' && c <= 'f'); });
}

}  // namespace llcpress::io
