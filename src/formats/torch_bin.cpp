#include "formats/torch_bin.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/check.h"

namespace llcpress::formats {

namespace {

// ============================================================ bytes

static_assert(std::endian::native == std::endian::little, "llcpress assumes a little-endian host");

template <typename T>
T load_le(const std::byte* source) {
  T value;
  std::memcpy(&value, source, sizeof(T));
  return value;
}

// True when [offset, offset + length) lies inside [0, size), without any sum
// that could wrap.
bool range_fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

// Names and bytes in error messages: printable ASCII kept, the rest escaped,
// long strings cut, so a hostile file cannot flood or garble the terminal.
std::string printable(std::string_view text, std::size_t limit = 80) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

// ============================================================ ZIP

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr std::uint32_t kEndRecordSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndRecordSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::uint64_t kLocalHeaderSize = 30;
constexpr std::uint64_t kCentralHeaderSize = 46;
constexpr std::uint64_t kEndRecordSize = 22;
constexpr std::uint64_t kZip64LocatorSize = 20;
constexpr std::uint64_t kZip64EndRecordSize = 56;
constexpr std::uint64_t kMaxCommentSize = 0xffff;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflate = 8;
constexpr std::uint16_t kFlagEncrypted = 0x0001;
constexpr std::uint16_t kFlagDataDescriptor = 0x0008;
constexpr std::uint32_t kSentinel32 = 0xffffffffu;
constexpr std::uint16_t kSentinel16 = 0xffffu;

const char* const kZipHint =
    "the file is not a complete pytorch_model.bin as torch.save writes it; re-download it or re-save it with "
    "torch.save (torch >= 1.6)";

// Reads the zip64 "extended information" extra field: each 64-bit value is
// present only when its 32-bit counterpart in the fixed header is 0xffffffff,
// in the order uncompressed size, compressed size, local header offset.
struct Zip64Fields {
  std::uint64_t uncompressed_size;
  std::uint64_t compressed_size;
  std::uint64_t local_header_offset;
};

void read_zip64_extra(std::span<const std::byte> extra, Zip64Fields& fields, bool need_uncompressed,
                      bool need_compressed, bool need_offset, const std::string& where, const std::string& what) {
  bool found = false;
  std::uint64_t cursor = 0;
  while (cursor + 4 <= extra.size()) {
    const auto id = load_le<std::uint16_t>(extra.data() + cursor);
    const auto size = load_le<std::uint16_t>(extra.data() + cursor + 2);
    cursor += 4;
    LLC_CHECK(range_fits(cursor, size, extra.size()), InputError, where, kZipHint,
              "{}: extra field 0x{:04x} of {} bytes runs past the end of the extra data ({} bytes)", what, id, size,
              extra.size());
    if (id == kZip64ExtraId) {
      LLC_CHECK(!found, InputError, where, kZipHint, "{}: two zip64 extra fields", what);
      found = true;
      std::uint64_t field = cursor;
      auto take = [&](std::uint64_t& value, const char* name) {
        LLC_CHECK(field + 8 <= cursor + size, InputError, where, kZipHint,
                  "{}: the zip64 extra field ({} bytes) lacks the 64-bit {}", what, size, name);
        value = load_le<std::uint64_t>(extra.data() + field);
        field += 8;
      };
      if (need_uncompressed) take(fields.uncompressed_size, "uncompressed size");
      if (need_compressed) take(fields.compressed_size, "compressed size");
      if (need_offset) take(fields.local_header_offset, "local header offset");
    }
    cursor += size;
  }
  LLC_CHECK(found || !(need_uncompressed || need_compressed || need_offset), InputError, where, kZipHint,
            "{}: a size or offset is 0xffffffff (zip64) but there is no zip64 extra field", what);
}

struct EndOfCentralDirectory {
  std::uint64_t entry_count;
  std::uint64_t directory_size;
  std::uint64_t directory_offset;
  std::uint64_t directory_limit;  // where the central directory must end (the start of the end records)
};

EndOfCentralDirectory find_end_of_central_directory(std::span<const std::byte> archive, const std::string& where) {
  const std::uint64_t size = archive.size();
  LLC_CHECK(size >= kEndRecordSize, InputError, where, kZipHint,
            "{} bytes is too small for a ZIP archive (the end record alone takes {})", size, kEndRecordSize);
  // The end record sits at the very end, followed only by its comment (at most
  // 65535 bytes): scan backwards over that window and no further.
  const std::uint64_t last = size - kEndRecordSize;
  const std::uint64_t first = last > kMaxCommentSize ? last - kMaxCommentSize : 0;
  std::optional<std::uint64_t> found;
  for (std::uint64_t position = last + 1; position-- > first;) {
    const std::byte* record = archive.data() + position;
    if (load_le<std::uint32_t>(record) != kEndRecordSignature) continue;
    if (position + kEndRecordSize + load_le<std::uint16_t>(record + 20) == size) {
      found = position;
      break;
    }
  }
  LLC_CHECK(found.has_value(), InputError, where, kZipHint,
            "no ZIP end-of-central-directory record in the last {} bytes: the file is truncated or not a ZIP "
            "archive",
            size - first);
  const std::uint64_t position = *found;
  const std::byte* record = archive.data() + position;
  const auto disk = load_le<std::uint16_t>(record + 4);
  const auto directory_disk = load_le<std::uint16_t>(record + 6);
  const auto entries_on_disk = load_le<std::uint16_t>(record + 8);
  EndOfCentralDirectory end{};
  end.entry_count = load_le<std::uint16_t>(record + 10);
  end.directory_size = load_le<std::uint32_t>(record + 12);
  end.directory_offset = load_le<std::uint32_t>(record + 16);
  end.directory_limit = position;

  const bool has_locator =
      position >= kZip64LocatorSize &&
      load_le<std::uint32_t>(archive.data() + position - kZip64LocatorSize) == kZip64LocatorSignature;
  if (has_locator) {
    const std::uint64_t locator_position = position - kZip64LocatorSize;
    const std::byte* locator = archive.data() + locator_position;
    const auto record_disk = load_le<std::uint32_t>(locator + 4);
    const auto record_offset = load_le<std::uint64_t>(locator + 8);
    const auto disk_count = load_le<std::uint32_t>(locator + 16);
    LLC_CHECK(record_disk == 0 && disk_count <= 1, InputError, where, "join the parts into one file",
              "multi-volume ZIP archives are not supported (zip64 locator: disk {}, {} disks)", record_disk,
              disk_count);
    LLC_CHECK(range_fits(record_offset, kZip64EndRecordSize, locator_position), InputError, where, kZipHint,
              "the zip64 end record offset {} (+{} bytes) is past the zip64 locator at byte {}", record_offset,
              kZip64EndRecordSize, locator_position);
    const std::byte* zip64 = archive.data() + record_offset;
    LLC_CHECK(load_le<std::uint32_t>(zip64) == kZip64EndRecordSignature, InputError, where, kZipHint,
              "no zip64 end-of-central-directory record at byte {} where the zip64 locator points", record_offset);
    const auto record_size = load_le<std::uint64_t>(zip64 + 4);
    LLC_CHECK(record_size >= kZip64EndRecordSize - 12 && range_fits(record_offset + 12, record_size, locator_position),
              InputError, where, kZipHint, "the zip64 end record at byte {} claims {} bytes, past the locator",
              record_offset, record_size);
    const auto zip64_disk = load_le<std::uint32_t>(zip64 + 16);
    const auto zip64_directory_disk = load_le<std::uint32_t>(zip64 + 20);
    const auto zip64_entries_on_disk = load_le<std::uint64_t>(zip64 + 24);
    end.entry_count = load_le<std::uint64_t>(zip64 + 32);
    end.directory_size = load_le<std::uint64_t>(zip64 + 40);
    end.directory_offset = load_le<std::uint64_t>(zip64 + 48);
    end.directory_limit = record_offset;
    LLC_CHECK(zip64_disk == 0 && zip64_directory_disk == 0 && zip64_entries_on_disk == end.entry_count, InputError,
              where, "join the parts into one file", "multi-volume ZIP archives are not supported");
  } else {
    LLC_CHECK(
        end.entry_count != kSentinel16 && end.directory_size != kSentinel32 && end.directory_offset != kSentinel32,
        InputError, where, kZipHint,
        "the end-of-central-directory record marks zip64 values (0xffff...) but there is no zip64 locator "
        "before it");
    LLC_CHECK(disk == 0 && directory_disk == 0 && entries_on_disk == end.entry_count, InputError, where,
              "join the parts into one file", "multi-volume ZIP archives are not supported");
  }
  return end;
}

}  // namespace

std::vector<ZipEntry> read_zip_stored(std::span<const std::byte> archive, const std::string& where) {
  const EndOfCentralDirectory end = find_end_of_central_directory(archive, where);
  LLC_CHECK(range_fits(end.directory_offset, end.directory_size, end.directory_limit), InputError, where, kZipHint,
            "the central directory (offset {}, {} bytes) does not fit before the end records at byte {}",
            end.directory_offset, end.directory_size, end.directory_limit);
  LLC_CHECK(end.entry_count <= end.directory_size / kCentralHeaderSize, InputError, where, kZipHint,
            "{} entries cannot fit in a central directory of {} bytes", end.entry_count, end.directory_size);

  struct Extent {
    std::uint64_t begin, end;
    std::size_t entry;
  };
  std::vector<ZipEntry> entries;
  std::vector<Extent> extents;
  entries.reserve(end.entry_count);
  extents.reserve(end.entry_count);
  const std::uint64_t directory_end = end.directory_offset + end.directory_size;
  std::uint64_t cursor = end.directory_offset;
  for (std::uint64_t index = 0; index < end.entry_count; ++index) {
    const std::string what = fmt::format("central directory entry {} (byte {})", index, cursor);
    LLC_CHECK(range_fits(cursor, kCentralHeaderSize, directory_end), InputError, where, kZipHint,
              "{}: runs past the end of the central directory", what);
    const std::byte* header = archive.data() + cursor;
    LLC_CHECK(load_le<std::uint32_t>(header) == kCentralHeaderSignature, InputError, where, kZipHint,
              "{}: bad signature 0x{:08x}", what, load_le<std::uint32_t>(header));
    const auto flags = load_le<std::uint16_t>(header + 8);
    const auto method = load_le<std::uint16_t>(header + 10);
    const auto compressed32 = load_le<std::uint32_t>(header + 20);
    const auto uncompressed32 = load_le<std::uint32_t>(header + 24);
    const auto name_length = load_le<std::uint16_t>(header + 28);
    const auto extra_length = load_le<std::uint16_t>(header + 30);
    const auto comment_length = load_le<std::uint16_t>(header + 32);
    const auto start_disk = load_le<std::uint16_t>(header + 34);
    const auto local_offset32 = load_le<std::uint32_t>(header + 42);
    const std::uint64_t variable_length = std::uint64_t{name_length} + extra_length + comment_length;
    LLC_CHECK(range_fits(cursor + kCentralHeaderSize, variable_length, directory_end), InputError, where, kZipHint,
              "{}: name, extra field and comment ({} bytes) run past the end of the central directory", what,
              variable_length);
    std::string name(reinterpret_cast<const char*>(header + kCentralHeaderSize), name_length);
    const std::string entry_what = fmt::format("entry '{}' ({})", printable(name), what);

    Zip64Fields fields{uncompressed32, compressed32, local_offset32};
    read_zip64_extra(archive.subspan(cursor + kCentralHeaderSize + name_length, extra_length), fields,
                     uncompressed32 == kSentinel32, compressed32 == kSentinel32, local_offset32 == kSentinel32, where,
                     entry_what);
    LLC_CHECK(start_disk == 0 || start_disk == kSentinel16, InputError, where, "join the parts into one file",
              "{}: lives on disk {} of a multi-volume archive", entry_what, start_disk);
    LLC_CHECK((flags & kFlagEncrypted) == 0, InputError, where, "decrypt the archive first", "{}: is encrypted",
              entry_what);
    LLC_CHECK(method == kMethodStored, InputError, where,
              "torch.save never compresses; re-save the state dict with torch.save, or re-zip without compression "
              "(zip -0 / zipfile.ZIP_STORED)",
              "{}: compression method {} ({}) is not supported: only stored (uncompressed) entries are read",
              entry_what, method, method == kMethodDeflate ? "deflate" : "not stored");
    LLC_CHECK(fields.compressed_size == fields.uncompressed_size, InputError, where, kZipHint,
              "{}: stored entry with compressed size {} != uncompressed size {}", entry_what, fields.compressed_size,
              fields.uncompressed_size);

    // The local header repeats the name and carries its own extra field; the
    // data starts after both. It must lie before the central directory.
    const std::uint64_t local = fields.local_header_offset;
    LLC_CHECK(range_fits(local, kLocalHeaderSize, end.directory_offset), InputError, where, kZipHint,
              "{}: local header offset {} is outside the file data (which ends at byte {})", entry_what, local,
              end.directory_offset);
    const std::byte* local_header = archive.data() + local;
    LLC_CHECK(load_le<std::uint32_t>(local_header) == kLocalHeaderSignature, InputError, where, kZipHint,
              "{}: no local header signature at byte {}", entry_what, local);
    const auto local_flags = load_le<std::uint16_t>(local_header + 6);
    const auto local_method = load_le<std::uint16_t>(local_header + 8);
    const auto local_compressed32 = load_le<std::uint32_t>(local_header + 18);
    const auto local_uncompressed32 = load_le<std::uint32_t>(local_header + 22);
    const auto local_name_length = load_le<std::uint16_t>(local_header + 26);
    const auto local_extra_length = load_le<std::uint16_t>(local_header + 28);
    const std::uint64_t local_variable = std::uint64_t{local_name_length} + local_extra_length;
    LLC_CHECK(range_fits(local + kLocalHeaderSize, local_variable, end.directory_offset), InputError, where, kZipHint,
              "{}: local header name and extra field run into the central directory", entry_what);
    const std::string_view local_name(reinterpret_cast<const char*>(local_header + kLocalHeaderSize),
                                      local_name_length);
    LLC_CHECK(local_name == name, InputError, where, kZipHint, "{}: the local header names '{}' instead", entry_what,
              printable(local_name));
    LLC_CHECK(local_method == method, InputError, where, kZipHint,
              "{}: local header says compression method {}, central directory {}", entry_what, local_method, method);
    if ((local_flags & kFlagDataDescriptor) == 0) {
      // Sizes are in the local header too (torch writes them in a data
      // descriptor instead, flag bit 3); when present they must agree.
      Zip64Fields local_fields{local_uncompressed32, local_compressed32, 0};
      read_zip64_extra(archive.subspan(local + kLocalHeaderSize + local_name_length, local_extra_length), local_fields,
                       local_uncompressed32 == kSentinel32, local_compressed32 == kSentinel32, false, where,
                       entry_what + " local header");
      LLC_CHECK(local_fields.compressed_size == fields.compressed_size &&
                    local_fields.uncompressed_size == fields.uncompressed_size,
                InputError, where, kZipHint,
                "{}: local header sizes ({}, {}) disagree with the central directory ({}, {})", entry_what,
                local_fields.compressed_size, local_fields.uncompressed_size, fields.compressed_size,
                fields.uncompressed_size);
    }
    const std::uint64_t data_offset = local + kLocalHeaderSize + local_variable;
    LLC_CHECK(range_fits(data_offset, fields.compressed_size, end.directory_offset), InputError, where, kZipHint,
              "{}: data (byte {}, {} bytes) runs past the start of the central directory at byte {}", entry_what,
              data_offset, fields.compressed_size, end.directory_offset);
    entries.push_back({std::move(name), archive.subspan(data_offset, fields.compressed_size)});
    extents.push_back({local, data_offset + fields.compressed_size, entries.size() - 1});
    cursor += kCentralHeaderSize + variable_length;
  }

  // Entries must not share bytes: a crafted archive could otherwise make one
  // storage alias another, or a header.
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < extents.size(); ++i) {
    LLC_CHECK(extents[i].begin >= extents[i - 1].end, InputError, where, kZipHint,
              "entries '{}' and '{}' overlap (bytes {}..{} and {}..{})", printable(entries[extents[i - 1].entry].name),
              printable(entries[extents[i].entry].name), extents[i - 1].begin, extents[i - 1].end, extents[i].begin,
              extents[i].end);
  }
  std::vector<std::string_view> names;
  names.reserve(entries.size());
  for (const auto& entry : entries) names.push_back(entry.name);
  std::sort(names.begin(), names.end());
  const auto duplicate = std::adjacent_find(names.begin(), names.end());
  LLC_CHECK(duplicate == names.end(), InputError, where, kZipHint, "the archive holds two entries named '{}'",
            duplicate == names.end() ? std::string() : printable(*duplicate));
  return entries;
}

namespace {

// ============================================================ pickle

// Every opcode of pickle protocols 0-5, for error messages; only some are
// executed (see PickleMachine::step).
std::string_view opcode_name(std::uint8_t opcode) {
  switch (opcode) {
    case '(':
      return "MARK";
    case '.':
      return "STOP";
    case '0':
      return "POP";
    case '1':
      return "POP_MARK";
    case '2':
      return "DUP";
    case 'F':
      return "FLOAT";
    case 'I':
      return "INT";
    case 'J':
      return "BININT";
    case 'K':
      return "BININT1";
    case 'L':
      return "LONG";
    case 'M':
      return "BININT2";
    case 'N':
      return "NONE";
    case 'P':
      return "PERSID";
    case 'Q':
      return "BINPERSID";
    case 'R':
      return "REDUCE";
    case 'S':
      return "STRING";
    case 'T':
      return "BINSTRING";
    case 'U':
      return "SHORT_BINSTRING";
    case 'V':
      return "UNICODE";
    case 'X':
      return "BINUNICODE";
    case 'a':
      return "APPEND";
    case 'b':
      return "BUILD";
    case 'c':
      return "GLOBAL";
    case 'd':
      return "DICT";
    case '}':
      return "EMPTY_DICT";
    case 'e':
      return "APPENDS";
    case 'g':
      return "GET";
    case 'h':
      return "BINGET";
    case 'i':
      return "INST";
    case 'j':
      return "LONG_BINGET";
    case 'l':
      return "LIST";
    case ']':
      return "EMPTY_LIST";
    case 'o':
      return "OBJ";
    case 'p':
      return "PUT";
    case 'q':
      return "BINPUT";
    case 'r':
      return "LONG_BINPUT";
    case 's':
      return "SETITEM";
    case 't':
      return "TUPLE";
    case ')':
      return "EMPTY_TUPLE";
    case 'u':
      return "SETITEMS";
    case 'G':
      return "BINFLOAT";
    case 0x80:
      return "PROTO";
    case 0x81:
      return "NEWOBJ";
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 0x85:
      return "TUPLE1";
    case 0x86:
      return "TUPLE2";
    case 0x87:
      return "TUPLE3";
    case 0x88:
      return "NEWTRUE";
    case 0x89:
      return "NEWFALSE";
    case 0x8a:
      return "LONG1";
    case 0x8b:
      return "LONG4";
    case 'B':
      return "BINBYTES";
    case 'C':
      return "SHORT_BINBYTES";
    case 0x8c:
      return "SHORT_BINUNICODE";
    case 0x8d:
      return "BINUNICODE8";
    case 0x8e:
      return "BINBYTES8";
    case 0x8f:
      return "EMPTY_SET";
    case 0x90:
      return "ADDITEMS";
    case 0x91:
      return "FROZENSET";
    case 0x92:
      return "NEWOBJ_EX";
    case 0x93:
      return "STACK_GLOBAL";
    case 0x94:
      return "MEMOIZE";
    case 0x95:
      return "FRAME";
    case 0x96:
      return "BYTEARRAY8";
    case 0x97:
      return "NEXT_BUFFER";
    case 0x98:
      return "READONLY_BUFFER";
    default:
      return "unknown";
  }
}

// What a global name resolves to. Nothing here is callable in the Python
// sense: REDUCE on one of these builds our own record of what torch would.
enum class GlobalKind : std::uint8_t {
  OrderedDict,       // collections.OrderedDict
  RebuildTensorV2,   // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta])
  RebuildTensorV3,   // torch._utils._rebuild_tensor_v3(..., hooks, dtype[, meta]) (uint16/32/64 tensors)
  RebuildParameter,  // torch._utils._rebuild_parameter(tensor, requires_grad, hooks)
  TypedStorage,      // torch.HalfStorage, ...: fixes the element type
  UntypedStorage,    // torch.storage.UntypedStorage: bytes; the element type comes from _rebuild_tensor_v3
  DTypeObject,       // torch.float16, ...: the dtype argument of _rebuild_tensor_v3
};

struct GlobalEntry {
  std::string_view module, name;
  GlobalKind kind;
  DType dtype;  // TypedStorage and DTypeObject only
};

// The allow-list (REFERENCE §2). torch.save names storages by their legacy
// typed class and tensors by _rebuild_tensor_v2; unsigned 16/32/64-bit tensors
// (torch >= 2.3) go through _rebuild_tensor_v3 with an UntypedStorage.
constexpr std::array<GlobalEntry, 34> kAllowedGlobals = {{
    {"collections", "OrderedDict", GlobalKind::OrderedDict, DType::F32},
    {"torch._utils", "_rebuild_tensor_v2", GlobalKind::RebuildTensorV2, DType::F32},
    {"torch._utils", "_rebuild_tensor_v3", GlobalKind::RebuildTensorV3, DType::F32},
    {"torch._utils", "_rebuild_parameter", GlobalKind::RebuildParameter, DType::F32},
    {"torch", "HalfStorage", GlobalKind::TypedStorage, DType::F16},
    {"torch", "BFloat16Storage", GlobalKind::TypedStorage, DType::BF16},
    {"torch", "FloatStorage", GlobalKind::TypedStorage, DType::F32},
    {"torch", "DoubleStorage", GlobalKind::TypedStorage, DType::F64},
    {"torch", "LongStorage", GlobalKind::TypedStorage, DType::I64},
    {"torch", "IntStorage", GlobalKind::TypedStorage, DType::I32},
    {"torch", "ShortStorage", GlobalKind::TypedStorage, DType::I16},
    {"torch", "CharStorage", GlobalKind::TypedStorage, DType::I8},
    {"torch", "ByteStorage", GlobalKind::TypedStorage, DType::U8},
    {"torch", "BoolStorage", GlobalKind::TypedStorage, DType::BOOL},
    {"torch.storage", "UntypedStorage", GlobalKind::UntypedStorage, DType::U8},
    {"torch", "float16", GlobalKind::DTypeObject, DType::F16},
    {"torch", "half", GlobalKind::DTypeObject, DType::F16},
    {"torch", "bfloat16", GlobalKind::DTypeObject, DType::BF16},
    {"torch", "float32", GlobalKind::DTypeObject, DType::F32},
    {"torch", "float", GlobalKind::DTypeObject, DType::F32},
    {"torch", "float64", GlobalKind::DTypeObject, DType::F64},
    {"torch", "double", GlobalKind::DTypeObject, DType::F64},
    {"torch", "int64", GlobalKind::DTypeObject, DType::I64},
    {"torch", "long", GlobalKind::DTypeObject, DType::I64},
    {"torch", "int32", GlobalKind::DTypeObject, DType::I32},
    {"torch", "int", GlobalKind::DTypeObject, DType::I32},
    {"torch", "int16", GlobalKind::DTypeObject, DType::I16},
    {"torch", "short", GlobalKind::DTypeObject, DType::I16},
    {"torch", "int8", GlobalKind::DTypeObject, DType::I8},
    {"torch", "uint8", GlobalKind::DTypeObject, DType::U8},
    {"torch", "bool", GlobalKind::DTypeObject, DType::BOOL},
    {"torch", "uint16", GlobalKind::DTypeObject, DType::U16},
    {"torch", "uint32", GlobalKind::DTypeObject, DType::U32},
    {"torch", "uint64", GlobalKind::DTypeObject, DType::U64},
}};

const char* const kPickleHint =
    "llcpress reads only plain state dicts (name -> tensor) saved with torch.save; nothing in the file was "
    "executed. If you trust the file, load it in Python and re-save it with safetensors.torch.save_file";

// Values live in an arena and refer to each other by index: no ownership
// cycles (a dict may be made to contain itself), no recursive destruction of a
// deeply nested structure, and memo entries alias the stack for free.
using Ref = std::uint32_t;

enum class Kind : std::uint8_t { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Global:
      return "global";
    case Kind::Storage:
      return "storage";
    case Kind::Tensor:
      return "tensor";
  }
  return "?";
}

struct Value {
  Kind kind;
  // Int/Bool: the value. Float: the bits. String/Tuple/List/Dict/Global/
  // Storage/Tensor: an index into the matching side table.
  std::int64_t payload;
};

struct StorageRecord {
  std::string key;
  std::optional<DType> dtype;  // nullopt: UntypedStorage
  std::int64_t numel = 0;      // elements of dtype, or bytes when untyped
};

struct TensorRecord {
  std::size_t storage = 0;  // index into storages
  DType dtype = DType::F32;
  std::int64_t storage_offset = 0;
  std::vector<std::int64_t> shape, stride;
};

constexpr std::size_t kMaxDimensions = 64;

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra;
    std::uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    constexpr std::uint32_t kMinimum[4] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

class PickleMachine {
 public:
  PickleMachine(std::span<const std::byte> bytes, const std::string& where, const PickleLimits& limits)
      : bytes_(bytes), where_(where), limits_(limits) {}

  std::vector<PickledTensor> run() {
    const Ref result = execute();
    return state_dict(result);
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& where_;
  PickleLimits limits_;
  std::size_t position_ = 0;
  std::size_t opcode_offset_ = 0;
  std::uint8_t opcode_ = 0;

  std::vector<Value> values_;
  std::vector<std::string> strings_;
  std::vector<std::vector<Ref>> sequences_;  // tuples, lists; dicts as key, value, key, value...
  std::vector<const GlobalEntry*> globals_;
  std::vector<StorageRecord> storages_;
  std::unordered_map<std::string, std::int64_t> storage_bytes_;  // by key
  std::vector<TensorRecord> tensors_;
  std::vector<Ref> stack_;
  std::vector<std::size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<std::uint32_t, Ref> memo_;
  std::size_t pushes_ = 0;

  // ---------------------------------------------------------- errors

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    fail_with_hint(kPickleHint, format, std::forward<Args>(args)...);
  }

  template <typename... Args>
  [[noreturn]] void fail_with_hint(const char* hint, fmt::format_string<Args...> format, Args&&... args) {
    const std::string message = fmt::format(format, std::forward<Args>(args)...);
    LLC_THROW(InputError, where_, hint, "pickle byte {} (opcode 0x{:02x} {}): {}", opcode_offset_, opcode_,
              opcode_name(opcode_), message);
  }

  // ---------------------------------------------------------- input

  const std::byte* take(std::size_t count) {
    if (count > bytes_.size() - position_)
      fail("needs {} more bytes but the stream ends after {} (truncated data.pkl?)", count, bytes_.size() - position_);
    const std::byte* data = bytes_.data() + position_;
    position_ += count;
    return data;
  }
  std::uint8_t take_u8() { return static_cast<std::uint8_t>(*take(1)); }
  template <typename T>
  T take_le() {
    return load_le<T>(take(sizeof(T)));
  }
  std::string_view take_text(std::uint64_t length) {
    if (length > bytes_.size() - position_)
      fail("a string of {} bytes runs past the end of the stream ({} bytes left)", length, bytes_.size() - position_);
    return {reinterpret_cast<const char*>(take(static_cast<std::size_t>(length))), static_cast<std::size_t>(length)};
  }
  // GLOBAL's operands: a text line ending in '\n'.
  std::string_view take_line() {
    const std::size_t left = bytes_.size() - position_;
    const auto* start = bytes_.data() + position_;
    const void* newline = std::memchr(start, '\n', left);
    if (newline == nullptr) fail("GLOBAL operand has no terminating newline before the end of the stream");
    const auto length = static_cast<std::size_t>(static_cast<const std::byte*>(newline) - start);
    position_ += length + 1;
    return {reinterpret_cast<const char*>(start), length};
  }

  // ---------------------------------------------------------- values

  Ref make(Kind kind, std::int64_t payload) {
    if (values_.size() >= limits_.max_objects)
      fail("more than {} objects: this is not a state dict", limits_.max_objects);
    values_.push_back({kind, payload});
    return static_cast<Ref>(values_.size() - 1);
  }
  Ref make_string(std::string_view text) {
    if (!valid_utf8(text)) fail("string '{}' is not valid UTF-8", printable(text));
    strings_.emplace_back(text);
    return make(Kind::String, static_cast<std::int64_t>(strings_.size() - 1));
  }
  Ref make_sequence(Kind kind, std::vector<Ref> items) {
    sequences_.push_back(std::move(items));
    return make(kind, static_cast<std::int64_t>(sequences_.size() - 1));
  }
  const Value& value(Ref ref) const { return values_[ref]; }
  const std::string& string_of(Ref ref) const { return strings_[static_cast<std::size_t>(value(ref).payload)]; }
  std::vector<Ref>& sequence_of(Ref ref) { return sequences_[static_cast<std::size_t>(value(ref).payload)]; }
  const GlobalEntry& global_of(Ref ref) const { return *globals_[static_cast<std::size_t>(value(ref).payload)]; }

  std::string describe(Ref ref) const {
    const Value& v = value(ref);
    switch (v.kind) {
      case Kind::Int:
        return fmt::format("int {}", v.payload);
      case Kind::String:
        return fmt::format("str '{}'", printable(string_of(ref), 40));
      case Kind::Global:
        return fmt::format("{}.{}", global_of(ref).module, global_of(ref).name);
      default:
        return std::string(kind_name(v.kind));
    }
  }

  // ---------------------------------------------------------- stack

  std::size_t stack_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Ref ref) {
    if (++pushes_ > limits_.max_pushes) fail("more than {} stack pushes: this is not a state dict", limits_.max_pushes);
    stack_.push_back(ref);
  }
  Ref pop() {
    if (stack_.size() <= stack_floor()) fail("stack underflow");
    const Ref top = stack_.back();
    stack_.pop_back();
    return top;
  }
  Ref top() {
    if (stack_.size() <= stack_floor()) fail("stack underflow");
    return stack_.back();
  }
  // Everything pushed since the last MARK, which is closed.
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("no MARK to close");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Ref pop_kind(Kind kind, const char* role) {
    const Ref ref = pop();
    if (value(ref).kind != kind) fail("{} must be a {}, not {}", role, kind_name(kind), describe(ref));
    return ref;
  }

  void memo_put(std::uint32_t index) {
    const Ref value = top();
    if (memo_.size() >= limits_.max_objects && memo_.count(index) == 0)
      fail("more than {} memo entries: this is not a state dict", limits_.max_objects);
    memo_[index] = value;
  }
  Ref memo_get(std::uint32_t index) {
    const auto found = memo_.find(index);
    if (found == memo_.end()) fail("memo entry {} was never stored", index);
    return found->second;
  }

  // ---------------------------------------------------------- execution

  Ref execute() {
    while (true) {
      if (position_ >= bytes_.size()) {
        opcode_offset_ = position_;
        opcode_ = 0;
        fail("the stream ends without STOP (truncated data.pkl?)");
      }
      opcode_offset_ = position_;
      opcode_ = take_u8();
      if (opcode_ == '.') return pop();
      step();
    }
  }

  void step() {
    switch (opcode_) {
      case 0x80: {  // PROTO
        const std::uint8_t protocol = take_u8();
        if (protocol < 2 || protocol > 5) fail("pickle protocol {} is not supported (torch.save writes 2)", protocol);
        break;
      }
      case 0x95: {  // FRAME: framing only groups opcodes for buffered reads
        const auto length = take_le<std::uint64_t>();
        if (length > bytes_.size() - position_) fail("frame of {} bytes runs past the end of the stream", length);
        break;
      }
      case '}':
        push(make_sequence(Kind::Dict, {}));
        break;
      case ']':
        push(make_sequence(Kind::List, {}));
        break;
      case ')':
        push(make_sequence(Kind::Tuple, {}));
        break;
      case '(':
        if (marks_.size() >= limits_.max_objects)
          fail("more than {} open MARKs: this is not a state dict", limits_.max_objects);
        marks_.push_back(stack_.size());
        break;
      case 'X':
        push(make_string(take_text(take_le<std::uint32_t>())));
        break;
      case 0x8d:
        push(make_string(take_text(take_le<std::uint64_t>())));
        break;
      case 0x8c:
        push(make_string(take_text(take_u8())));
        break;
      case 'J':
        push(make(Kind::Int, take_le<std::int32_t>()));
        break;
      case 'K':
        push(make(Kind::Int, take_u8()));
        break;
      case 'M':
        push(make(Kind::Int, take_le<std::uint16_t>()));
        break;
      case 0x8a:
        push(make(Kind::Int, take_long1()));
        break;
      case 'G': {  // BINFLOAT: big-endian IEEE double
        auto bits = take_le<std::uint64_t>();
        bits = __builtin_bswap64(bits);
        push(make(Kind::Float, static_cast<std::int64_t>(bits)));
        break;
      }
      case 'N':
        push(make(Kind::None, 0));
        break;
      case 0x88:
        push(make(Kind::Bool, 1));
        break;
      case 0x89:
        push(make(Kind::Bool, 0));
        break;
      case 't':
        push(make_sequence(Kind::Tuple, pop_mark()));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t count = opcode_ - 0x84u;
        std::vector<Ref> items(count);
        for (std::size_t i = count; i-- > 0;) items[i] = pop();
        push(make_sequence(Kind::Tuple, std::move(items)));
        break;
      }
      case 's': {  // SETITEM
        const Ref item = pop();
        const Ref key = pop();
        set_items(top(), {key, item});
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Ref> items = pop_mark();
        if (items.size() % 2 != 0) fail("odd number of items ({}) for key/value pairs", items.size());
        set_items(top(), items);
        break;
      }
      case 'a': {  // APPEND
        const Ref item = pop();
        append_items(top(), {item});
        break;
      }
      case 'e': {  // APPENDS: the list sits just below the mark
        std::vector<Ref> items = pop_mark();
        append_items(top(), items);
        break;
      }
      case 'q':
        memo_put(take_u8());
        break;
      case 'r':
        memo_put(take_le<std::uint32_t>());
        break;
      case 0x94:
        memo_put(static_cast<std::uint32_t>(memo_.size()));
        break;
      case 'h':
        push(memo_get(take_u8()));
        break;
      case 'j':
        push(memo_get(take_le<std::uint32_t>()));
        break;
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string_view module = take_line();
        const std::string_view name = take_line();
        push(make_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL (protocol 4): module and name from the stack
        const Ref name = pop_kind(Kind::String, "STACK_GLOBAL's name");
        const Ref module = pop_kind(Kind::String, "STACK_GLOBAL's module");
        push(make_global(string_of(module), string_of(name)));
        break;
      }
      case 'R':
        reduce();
        break;
      case 'Q':
        persistent_load();
        break;
      case 'b': {  // BUILD: only OrderedDict state (its _metadata), which we do not need
        const Ref state = pop();
        (void)state;
        const Ref target = top();
        if (value(target).kind != Kind::Dict)
          fail("BUILD on {} is not supported (only on OrderedDict)", describe(target));
        break;
      }
      default:
        fail("opcode is not part of the state-dict subset that llcpress reads");
    }
  }

  std::int64_t take_long1() {
    const std::uint8_t length = take_u8();
    if (length > 8) fail("integer of {} bytes does not fit in 64 bits", length);
    const std::byte* data = take(length);
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < length; ++i) bits |= std::uint64_t{static_cast<std::uint8_t>(data[i])} << (8 * i);
    // Two's complement of `length` bytes: sign-extend from its top bit.
    if (length > 0 && length < 8 && (static_cast<std::uint8_t>(data[length - 1]) & 0x80) != 0)
      bits |= ~std::uint64_t{0} << (8 * length);
    return static_cast<std::int64_t>(bits);
  }

  void set_items(Ref dict, const std::vector<Ref>& items) {
    if (value(dict).kind != Kind::Dict) fail("SETITEM(S) on {}, not a dict", describe(dict));
    auto& entries = sequence_of(dict);
    entries.insert(entries.end(), items.begin(), items.end());
  }
  void append_items(Ref list, const std::vector<Ref>& items) {
    if (value(list).kind != Kind::List) fail("APPEND(S) on {}, not a list", describe(list));
    auto& entries = sequence_of(list);
    entries.insert(entries.end(), items.begin(), items.end());
  }

  Ref make_global(std::string_view module, std::string_view name) {
    for (const auto& entry : kAllowedGlobals) {
      if (entry.module == module && entry.name == name) {
        globals_.push_back(&entry);
        return make(Kind::Global, static_cast<std::int64_t>(globals_.size() - 1));
      }
    }
    if (module == "torch" && name.ends_with("Storage"))
      fail_with_hint(
          "convert the tensor to float16, bfloat16, float32, float64, an integer type or bool, and save again",
          "tensor storage torch.{} is not supported", printable(name));
    fail(
        "global '{}.{}' is not allowed: a state dict needs only collections.OrderedDict, "
        "torch._utils._rebuild_tensor_v2/_v3, torch._utils._rebuild_parameter and torch storage/dtype classes",
        printable(module), printable(name));
  }

  // BINPERSID: torch's persistent id for a storage,
  // ('storage', storage_class, key, location, numel).
  void persistent_load() {
    const Ref pid = pop();
    if (value(pid).kind != Kind::Tuple) fail("persistent id must be a tuple, not {}", describe(pid));
    const std::vector<Ref> fields = sequence_of(pid);
    if (fields.size() != 5)
      fail("persistent id has {} fields, expected 5 ('storage', class, key, location, numel)", fields.size());
    if (value(fields[0]).kind != Kind::String || string_of(fields[0]) != "storage")
      fail("persistent id of type {} is not supported (only 'storage')", describe(fields[0]));
    if (value(fields[1]).kind != Kind::Global || (global_of(fields[1]).kind != GlobalKind::TypedStorage &&
                                                  global_of(fields[1]).kind != GlobalKind::UntypedStorage))
      fail("persistent id names {} instead of a storage class", describe(fields[1]));
    if (value(fields[2]).kind != Kind::String) fail("storage key must be a str, not {}", describe(fields[2]));
    if (value(fields[3]).kind != Kind::String) fail("storage location must be a str, not {}", describe(fields[3]));
    if (value(fields[4]).kind != Kind::Int || value(fields[4]).payload < 0)
      fail("storage size must be a non-negative int, not {}", describe(fields[4]));
    StorageRecord storage;
    storage.key = string_of(fields[2]);
    if (global_of(fields[1]).kind == GlobalKind::TypedStorage) storage.dtype = global_of(fields[1]).dtype;
    storage.numel = value(fields[4]).payload;
    const std::size_t element_size = storage.dtype ? dtype_size(*storage.dtype) : 1;
    if (storage.numel > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(element_size))
      fail("storage '{}' of {} elements exceeds 2^63 bytes", printable(storage.key), storage.numel);
    // torch writes one persistent id per storage use; two uses of the same
    // key must describe the same bytes.
    const std::int64_t storage_bytes = storage.numel * static_cast<std::int64_t>(element_size);
    const auto [known, inserted] = storage_bytes_.try_emplace(storage.key, storage_bytes);
    if (!inserted && known->second != storage_bytes)
      fail("storage '{}' is described as {} bytes and as {} bytes", printable(storage.key), known->second,
           storage_bytes);
    storages_.push_back(std::move(storage));
    push(make(Kind::Storage, static_cast<std::int64_t>(storages_.size() - 1)));
  }

  void reduce() {
    const Ref arguments = pop_kind(Kind::Tuple, "REDUCE's arguments");
    const Ref callable = pop();
    if (value(callable).kind != Kind::Global)
      fail("REDUCE on {} (only allowed globals may be called)", describe(callable));
    const GlobalEntry& entry = global_of(callable);
    const std::vector<Ref> args = sequence_of(arguments);
    switch (entry.kind) {
      case GlobalKind::OrderedDict:
        if (!args.empty()) fail("collections.OrderedDict called with {} arguments (expected none)", args.size());
        push(make_sequence(Kind::Dict, {}));
        return;
      case GlobalKind::RebuildTensorV2:
        if (args.size() != 6 && args.size() != 7)
          fail("torch._utils._rebuild_tensor_v2 called with {} arguments (expected 6 or 7)", args.size());
        push(rebuild_tensor(args, std::nullopt));
        return;
      case GlobalKind::RebuildTensorV3: {
        if (args.size() != 7 && args.size() != 8)
          fail("torch._utils._rebuild_tensor_v3 called with {} arguments (expected 7 or 8)", args.size());
        if (value(args[6]).kind != Kind::Global || global_of(args[6]).kind != GlobalKind::DTypeObject)
          fail("_rebuild_tensor_v3's dtype argument is {}, not a torch dtype", describe(args[6]));
        push(rebuild_tensor(args, global_of(args[6]).dtype));
        return;
      }
      case GlobalKind::RebuildParameter:
        // A saved nn.Parameter: the tensor plus requires_grad and hooks.
        if (args.size() != 3 || value(args[0]).kind != Kind::Tensor)
          fail("torch._utils._rebuild_parameter expects (tensor, requires_grad, hooks)");
        push(args[0]);
        return;
      default:
        fail("REDUCE on {}.{} is not allowed", entry.module, entry.name);
    }
  }

  std::vector<std::int64_t> int_tuple(Ref ref, const char* role) {
    if (value(ref).kind != Kind::Tuple) fail("tensor {} must be a tuple of ints, not {}", role, describe(ref));
    const std::vector<Ref>& items = sequence_of(ref);
    if (items.size() > kMaxDimensions)
      fail("tensor {} has {} dimensions (at most {} supported)", role, items.size(), kMaxDimensions);
    std::vector<std::int64_t> numbers;
    for (Ref item : items) {
      if (value(item).kind != Kind::Int) fail("tensor {} holds {}, not an int", role, describe(item));
      numbers.push_back(value(item).payload);
    }
    return numbers;
  }

  // _rebuild_tensor_v2/_v3(storage, storage_offset, size, stride, requires_grad, hooks, ...):
  // records the view and checks that every element it reaches is inside the storage.
  Ref rebuild_tensor(const std::vector<Ref>& args, std::optional<DType> v3_dtype) {
    if (value(args[0]).kind != Kind::Storage) fail("tensor storage argument is {}, not a storage", describe(args[0]));
    if (value(args[1]).kind != Kind::Int) fail("tensor storage offset is {}, not an int", describe(args[1]));
    TensorRecord tensor;
    tensor.storage = static_cast<std::size_t>(value(args[0]).payload);
    tensor.storage_offset = value(args[1]).payload;
    tensor.shape = int_tuple(args[2], "size");
    tensor.stride = int_tuple(args[3], "stride");
    if (value(args[4]).kind != Kind::Bool) fail("tensor requires_grad is {}, not a bool", describe(args[4]));
    if (value(args[5]).kind != Kind::Dict) fail("tensor backward hooks are {}, not an OrderedDict", describe(args[5]));
    const StorageRecord& storage = storages_[tensor.storage];
    std::int64_t storage_numel = storage.numel;
    if (v3_dtype) {
      tensor.dtype = *v3_dtype;
      const auto element_size = static_cast<std::int64_t>(dtype_size(tensor.dtype));
      if (!storage.dtype) {
        if (storage.numel % element_size != 0)
          fail("untyped storage '{}' of {} bytes is not a whole number of {} elements", printable(storage.key),
               storage.numel, dtype_name(tensor.dtype));
        storage_numel = storage.numel / element_size;
      } else if (*storage.dtype != tensor.dtype) {
        fail("storage '{}' holds {} but the tensor is {}", printable(storage.key), dtype_name(*storage.dtype),
             dtype_name(tensor.dtype));
      }
    } else {
      if (!storage.dtype) fail("_rebuild_tensor_v2 on untyped storage '{}' (no dtype)", printable(storage.key));
      tensor.dtype = *storage.dtype;
    }
    check_extent(tensor, storage.key, storage_numel);
    tensors_.push_back(std::move(tensor));
    return make(Kind::Tensor, static_cast<std::int64_t>(tensors_.size() - 1));
  }

  void check_extent(const TensorRecord& tensor, const std::string& key, std::int64_t storage_numel) {
    if (tensor.shape.size() != tensor.stride.size())
      fail("tensor size has {} dimensions but stride has {}", tensor.shape.size(), tensor.stride.size());
    if (tensor.storage_offset < 0) fail("negative storage offset {}", tensor.storage_offset);
    // The largest element index the view reaches, offset + sum (size-1)*stride,
    // computed in 128 bits so no size or stride can make it wrap.
    __int128 numel = 1;
    __int128 last = tensor.storage_offset;
    for (std::size_t d = 0; d < tensor.shape.size(); ++d) {
      if (tensor.shape[d] < 0) fail("negative size {} in dimension {}", tensor.shape[d], d);
      if (tensor.stride[d] < 0) fail("negative stride {} in dimension {}", tensor.stride[d], d);
      numel *= tensor.shape[d];
      if (numel > std::numeric_limits<std::int64_t>::max()) fail("tensor has more than 2^63 elements");
      if (tensor.shape[d] > 0) last += static_cast<__int128>(tensor.shape[d] - 1) * tensor.stride[d];
      if (last > std::numeric_limits<std::int64_t>::max()) fail("tensor extent exceeds 2^63 elements");
    }
    if (numel == 0) {
      if (tensor.storage_offset > storage_numel)
        fail("storage offset {} is past the end of storage '{}' ({} elements)", tensor.storage_offset, printable(key),
             storage_numel);
      return;
    }
    if (last >= storage_numel)
      fail("the tensor reaches element {} of storage '{}', which holds only {} elements",
           static_cast<std::int64_t>(last), printable(key), storage_numel);
  }

  std::vector<PickledTensor> state_dict(Ref result) {
    if (value(result).kind != Kind::Dict)
      fail("the pickle holds a {}, not a state dict (a dict of name -> tensor)", describe(result));
    const std::vector<Ref>& entries = sequence_of(result);
    std::vector<PickledTensor> tensors;
    tensors.reserve(entries.size() / 2);
    std::unordered_map<std::string_view, std::size_t> seen;
    for (std::size_t i = 0; i + 1 < entries.size(); i += 2) {
      const Ref key = entries[i];
      const Ref item = entries[i + 1];
      if (value(key).kind != Kind::String) fail("state dict key {} is not a str", describe(key));
      const std::string& name = string_of(key);
      if (value(item).kind != Kind::Tensor)
        fail("state dict entry '{}' is a {}, not a tensor (only name -> tensor dicts are supported)", printable(name),
             describe(item));
      if (!seen.emplace(name, i).second) fail("state dict has two entries named '{}'", printable(name));
      const TensorRecord& record = tensors_[static_cast<std::size_t>(value(item).payload)];
      const StorageRecord& storage = storages_[record.storage];
      PickledTensor tensor;
      tensor.name = name;
      tensor.storage_key = storage.key;
      tensor.dtype = record.dtype;
      tensor.storage_offset = record.storage_offset;
      tensor.storage_numel =
          storage.dtype ? storage.numel : storage.numel / static_cast<std::int64_t>(dtype_size(record.dtype));
      tensor.shape = record.shape;
      tensor.stride = record.stride;
      tensors.push_back(std::move(tensor));
    }
    return tensors;
  }
};

}  // namespace

std::vector<PickledTensor> parse_state_dict_pickle(std::span<const std::byte> pickle, const std::string& where,
                                                   const PickleLimits& limits) {
  PickleMachine machine(pickle, where, limits);
  return machine.run();
}

// ============================================================ TorchBinFile

namespace {

// Strided views are gathered into memory; one that names more bytes than its
// storage holds (stride 0) is accepted up to this size.
constexpr std::uint64_t kMaxExpandedBytes = std::uint64_t{64} << 20;

bool is_contiguous(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& stride) {
  // torch's rule: dimensions of extent 1 may carry any stride.
  std::int64_t expected = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) return true;
    if (shape[d] != 1 && stride[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

// Copies a strided view into C order. Dimensions are walked odometer-style so
// no recursion depth depends on the file.
void gather_strided(std::byte* destination, const std::byte* storage, std::int64_t storage_offset,
                    const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& stride,
                    std::size_t element_size) {
  std::int64_t numel = 1;
  for (std::int64_t extent : shape) numel *= extent;
  if (numel == 0) return;
  std::vector<std::int64_t> index(shape.size(), 0);
  std::int64_t source = storage_offset;
  for (std::int64_t n = 0; n < numel; ++n) {
    std::memcpy(destination + static_cast<std::size_t>(n) * element_size,
                storage + static_cast<std::size_t>(source) * element_size, element_size);
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) {
        source += stride[d];
        break;
      }
      source -= (shape[d] - 1) * stride[d];
      index[d] = 0;
    }
  }
}

}  // namespace

TorchBinFile::TorchBinFile(TorchBinFile&&) noexcept = default;
TorchBinFile& TorchBinFile::operator=(TorchBinFile&&) noexcept = default;
TorchBinFile::~TorchBinFile() = default;

TorchBinFile TorchBinFile::open(const std::string& path) {
  TorchBinFile file;
  file.path_ = path;
  file.file_ = MappedFile(path);
  file.load(file.file_.bytes());
  return file;
}

TorchBinFile TorchBinFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  TorchBinFile file;
  file.path_ = name;
  file.load(bytes);
  return file;
}

void TorchBinFile::load(std::span<const std::byte> bytes) {
  gather_mutex_ = std::make_unique<std::mutex>();
  // torch < 1.6 wrote a bare pickle stream (magic number first) or a tar file.
  if (bytes.size() >= 2 && bytes[0] == std::byte{0x80} && static_cast<std::uint8_t>(bytes[1]) <= 5)
    LLC_THROW(InputError, path_, "load it with torch >= 1.6 and torch.save it again, or convert it to safetensors",
              "this is the legacy (torch < 1.6) serialization format, which llcpress does not read");
  const std::vector<ZipEntry> entries = read_zip_stored(bytes, path_);

  // The archive's top folder is the file's stem when torch.save wrote it
  // ("archive/" in older releases): find data.pkl by suffix.
  const ZipEntry* pickle = nullptr;
  for (const auto& entry : entries) {
    const std::string_view name = entry.name;
    if (!name.ends_with("data.pkl")) continue;
    const std::string_view prefix = name.substr(0, name.size() - 8);
    if (!prefix.empty() && (prefix.back() != '/' || prefix.find('/') != prefix.size() - 1)) continue;
    LLC_CHECK(pickle == nullptr, InputError, path_, "", "the archive holds two state dicts ('{}' and '{}')",
              printable(pickle == nullptr ? "" : pickle->name), printable(entry.name));
    pickle = &entry;
  }
  LLC_CHECK(pickle != nullptr, InputError, path_,
            "torch.save (torch >= 1.6) writes <name>/data.pkl; is this a "
            "pytorch_model.bin?",
            "a ZIP archive without a data.pkl entry: not a torch.save file");
  const std::string prefix = pickle->name.substr(0, pickle->name.size() - 8);
  std::map<std::string_view, std::span<const std::byte>> by_name;
  for (const auto& entry : entries) by_name.emplace(entry.name, entry.data);

  if (const auto byteorder = by_name.find(prefix + "byteorder"); byteorder != by_name.end()) {
    const std::string_view order(reinterpret_cast<const char*>(byteorder->second.data()), byteorder->second.size());
    LLC_CHECK(order == "little", InputError, path_, "re-save the state dict on a little-endian machine",
              "'{}byteorder' says '{}': only little-endian files are supported", printable(prefix), printable(order));
  }

  const std::vector<PickledTensor> pickled = parse_state_dict_pickle(pickle->data, path_ + ":" + pickle->name);
  tensors_.reserve(pickled.size());
  stored_.reserve(pickled.size());
  for (const auto& tensor : pickled) {
    const std::string entry_name = prefix + "data/" + tensor.storage_key;
    const auto found = by_name.find(entry_name);
    LLC_CHECK(found != by_name.end(), InputError, path_, kZipHint,
              "tensor '{}': its storage '{}' is missing from the archive", printable(tensor.name),
              printable(entry_name));
    const std::span<const std::byte> storage = found->second;
    const std::size_t element_size = dtype_size(tensor.dtype);
    // storage_numel * element_size cannot overflow: the pickle parser bounds it by 2^63 bytes.
    const auto needed = static_cast<std::uint64_t>(tensor.storage_numel) * element_size;
    LLC_CHECK(storage.size() >= needed, InputError, path_, kZipHint,
              "tensor '{}': storage '{}' holds {} bytes but the state dict declares {} elements of {} ({} bytes)",
              printable(tensor.name), printable(entry_name), storage.size(), tensor.storage_numel,
              dtype_name(tensor.dtype), needed);
    TensorInfo info;
    info.name = tensor.name;
    info.dtype = tensor.dtype;
    info.shape = tensor.shape;
    StoredTensor stored;
    stored.storage = storage.first(static_cast<std::size_t>(needed));
    stored.storage_offset = tensor.storage_offset;
    stored.stride = tensor.stride;
    stored.contiguous = is_contiguous(tensor.shape, tensor.stride);
    // A stride-0 (expanded) view can name far more elements than its storage
    // holds; gathering it would turn a small file into a huge allocation.
    const auto logical = static_cast<std::uint64_t>(info.numel()) * element_size;
    LLC_CHECK(stored.contiguous || logical <= std::max<std::uint64_t>(needed, kMaxExpandedBytes), InputError, path_,
              "save tensor.contiguous() (or .clone()) instead of the broadcast view",
              "tensor '{}' is a broadcast view of {} bytes over a storage of {} bytes (at most {} are expanded)",
              printable(tensor.name), logical, needed, kMaxExpandedBytes);
    index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
    stored_.push_back(std::move(stored));
  }
}

bool TorchBinFile::contains(const std::string& name) const { return index_.count(name) != 0; }

TensorView TorchBinFile::tensor(const std::string& name) const {
  const auto found = index_.find(name);
  LLC_CHECK(found != index_.end(), InputError, path_, "list the tensors with `llcpress inspect`",
            "no tensor named '{}'", name);
  const TensorInfo& info = tensors_[found->second];
  const StoredTensor& stored = stored_[found->second];
  const std::size_t element_size = dtype_size(info.dtype);
  const std::size_t bytes = static_cast<std::size_t>(info.numel()) * element_size;
  if (stored.contiguous) {
    const std::size_t begin = bytes == 0 ? 0 : static_cast<std::size_t>(stored.storage_offset) * element_size;
    return {info, stored.storage.subspan(begin, bytes)};
  }
  std::lock_guard<std::mutex> lock(*gather_mutex_);
  auto [slot, inserted] = gathered_.try_emplace(name);
  if (inserted) {
    slot->second.resize(bytes);
    gather_strided(slot->second.data(), stored.storage.data(), stored.storage_offset, info.shape, stored.stride,
                   element_size);
  }
  return {info, std::span<const std::byte>(slot->second)};
}

}  // namespace llcpress::formats
