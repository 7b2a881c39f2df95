#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "core/check.h"
#include "formats/atomic_file.h"
#include "formats/json_util.h"

namespace llcpress::formats {

namespace {

// The reference implementation refuses headers above 100 MB (a real header is
// a few hundred KB even for the largest Pythia shards); so do we, before
// allocating anything for it.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kNotSafetensors = "is this a safetensors file? re-download or re-export it";

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::string offsets_string(std::uint64_t begin, std::uint64_t end) { return fmt::format("[{}, {}]", begin, end); }

// A JSON value as a non-negative integer, or nullopt (negative, fractional,
// too large, or not a number at all).
std::optional<std::uint64_t> as_unsigned(const nlohmann::json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  return value.get<std::uint64_t>();
}

struct ParsedEntry {
  TensorInfo info;
  std::uint64_t begin = 0, end = 0;
};

ParsedEntry parse_entry(const std::string& name, const nlohmann::json& entry, const std::string& where) {
  LLC_CHECK(entry.is_object(), InputError, where, kNotSafetensors,
            "header entry for tensor '{}' is a JSON {}, not an object", name, entry.type_name());
  ParsedEntry parsed;
  parsed.info.name = name;

  auto dtype_field = entry.find("dtype");
  LLC_CHECK(dtype_field != entry.end() && dtype_field->is_string(), InputError, where, kNotSafetensors,
            "tensor '{}' has no \"dtype\" string", name);
  const auto dtype_text = dtype_field->get<std::string>();
  auto dtype = dtype_from_name(dtype_text);
  LLC_CHECK(dtype.has_value(), InputError, where, "convert the tensor to a supported dtype",
            "tensor '{}' has unknown dtype '{}' (supported: {})", name, dtype_text, supported_dtype_names());
  parsed.info.dtype = *dtype;

  auto shape_field = entry.find("shape");
  LLC_CHECK(shape_field != entry.end() && shape_field->is_array(), InputError, where, kNotSafetensors,
            "tensor '{}' has no \"shape\" array", name);
  std::uint64_t numel = 1;
  for (const auto& extent_value : *shape_field) {
    auto extent = as_unsigned(extent_value);
    LLC_CHECK(extent.has_value() && *extent <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
              InputError, where, kNotSafetensors, "tensor '{}': shape entry {} is not a non-negative integer", name,
              json_brief(extent_value));
    LLC_CHECK(!__builtin_mul_overflow(numel, *extent, &numel), InputError, where, kNotSafetensors,
              "tensor '{}': shape {} has more elements than fit in 64 bits", name, json_brief(*shape_field));
    parsed.info.shape.push_back(static_cast<std::int64_t>(*extent));
  }
  std::uint64_t nbytes = 0;
  LLC_CHECK(!__builtin_mul_overflow(numel, dtype_size(*dtype), &nbytes) &&
                nbytes <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
            InputError, where, kNotSafetensors, "tensor '{}': shape {} of {} needs more bytes than fit in 64 bits",
            name, json_brief(*shape_field), dtype_text);

  auto offsets_field = entry.find("data_offsets");
  LLC_CHECK(offsets_field != entry.end() && offsets_field->is_array() && offsets_field->size() == 2, InputError, where,
            kNotSafetensors, "tensor '{}' has no \"data_offsets\" pair [begin, end]", name);
  auto begin = as_unsigned((*offsets_field)[0]);
  auto end = as_unsigned((*offsets_field)[1]);
  LLC_CHECK(begin.has_value() && end.has_value() && *begin <= *end, InputError, where, kNotSafetensors,
            "tensor '{}': data_offsets {} must be non-negative integers with begin <= end", name,
            json_brief(*offsets_field));
  parsed.begin = *begin;
  parsed.end = *end;
  LLC_CHECK(*end - *begin == nbytes, InputError, where, kNotSafetensors,
            "tensor '{}': shape/size mismatch: shape {} of {} needs {} bytes but data_offsets {} span {} bytes", name,
            shape_string(parsed.info.shape), dtype_text, nbytes, offsets_string(*begin, *end), *end - *begin);
  return parsed;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file;
  file.file_ = MappedFile(path);
  file.parse_into(file.file_.bytes(), path);
  return file;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, const std::string& name) {
  SafetensorsFile file;
  file.parse_into(bytes, name);
  return file;
}

void SafetensorsFile::parse_into(std::span<const std::byte> bytes, const std::string& where) {
  path_ = where;
  LLC_CHECK(bytes.size() >= 8, InputError, where, kNotSafetensors,
            "file is {} bytes, too short to hold the 8-byte header length (truncated?)", bytes.size());
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);  // little-endian host (checked in dtype.cpp)
  LLC_CHECK(header_length <= kMaxHeaderBytes, InputError, where, kNotSafetensors,
            "header length {} exceeds the 100 MB limit of the format (corrupt file?)", header_length);
  LLC_CHECK(header_length <= bytes.size() - 8, InputError, where, "the file is probably truncated; re-download it",
            "header length {} runs past the end of the file ({} bytes after the length field)", header_length,
            bytes.size() - 8);
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  data_ = bytes.subspan(8 + header_length);

  // Tensor names are the top-level keys: a repeated one would silently shadow
  // the other. A valid header nests three levels (header, entry, shape).
  const nlohmann::json header =
      parse_untrusted_json(std::string_view(header_begin, header_length), where, "header", kNotSafetensors,
                           /*max_depth=*/3, [](const std::string& key, int depth) {
                             return depth == 1 ? fmt::format("header names tensor '{}' twice", key)
                                               : fmt::format("key '{}' appears twice in one header entry", key);
                           });
  LLC_CHECK(header.is_object(), InputError, where, kNotSafetensors, "header is a JSON {}, not an object",
            header.type_name());

  std::vector<ParsedEntry> entries;
  entries.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      LLC_CHECK(value.is_object(), InputError, where, kNotSafetensors,
                "__metadata__ must be an object mapping strings to strings, not a JSON {}", value.type_name());
      for (const auto& [meta_key, meta_value] : value.items()) {
        LLC_CHECK(meta_value.is_string(), InputError, where, kNotSafetensors,
                  "__metadata__ must map strings to strings, but key '{}' holds a JSON {}", meta_key,
                  meta_value.type_name());
        metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, where));
  }

  // Every byte of the data buffer belongs to exactly one tensor: offsets in
  // range, sorted they must tile [0, data size) without overlap or gap.
  for (const auto& entry : entries) {
    LLC_CHECK(entry.end <= data_.size(), InputError, where, "the file is probably truncated; re-download it",
              "tensor '{}': data_offsets {} run past the end of the data buffer ({} bytes)", entry.info.name,
              offsets_string(entry.begin, entry.end), data_.size());
  }
  std::sort(entries.begin(), entries.end(), [](const ParsedEntry& a, const ParsedEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  const ParsedEntry* previous = nullptr;
  for (const auto& entry : entries) {
    LLC_CHECK(entry.begin >= covered, InputError, where, kNotSafetensors,
              "tensor '{}' data_offsets {} overlap tensor '{}' (which ends at {})", entry.info.name,
              offsets_string(entry.begin, entry.end), previous ? previous->info.name : "", covered);
    LLC_CHECK(entry.begin == covered, InputError, where, kNotSafetensors,
              "{} unused bytes before tensor '{}' (data_offsets {}): offsets must be contiguous", entry.begin - covered,
              entry.info.name, offsets_string(entry.begin, entry.end));
    covered = entry.end;
    previous = &entry;
  }
  LLC_CHECK(covered == data_.size(), InputError, where, kNotSafetensors,
            "{} bytes after the last tensor are not covered by any tensor (data buffer {} bytes)",
            data_.size() - covered, data_.size());

  for (auto& entry : entries) {
    index_[entry.info.name] = tensors_.size();
    tensor_bytes_.push_back(data_.subspan(entry.begin, entry.end - entry.begin));
    tensors_.push_back(std::move(entry.info));
  }
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) != 0; }

TensorView SafetensorsFile::tensor(const std::string& name) const {
  auto found = index_.find(name);
  LLC_CHECK(found != index_.end(), InputError, path_, "run `llcpress inspect` on the file to list its tensors",
            "no tensor named '{}'", name);
  return TensorView{tensors_[found->second], tensor_bytes_[found->second]};
}

void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Insertion-ordered JSON so the header lists tensors in file order, with
  // __metadata__ first, as the reference writer does.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& tensor : tensors) {
    const auto& info = tensor.info;
    LLC_CHECK(!info.name.empty() && info.name != "__metadata__", InputError, path, "", "invalid tensor name '{}'",
              info.name);
    LLC_CHECK(names.insert(info.name).second, InputError, path, "", "tensor '{}' given twice", info.name);
    LLC_CHECK(tensor.bytes.size() == info.nbytes(), InputError, path, "",
              "tensor '{}': {} bytes given for shape {} of {} ({} bytes)", info.name, tensor.bytes.size(),
              shape_string(info.shape), dtype_name(info.dtype), info.nbytes());
    header[info.name] = {{"dtype", dtype_name(info.dtype)},
                         {"shape", info.shape},
                         {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& error) {
    LLC_THROW(InputError, path, "tensor names and metadata must be valid UTF-8", "cannot encode header: {}",
              error.what());
  }
  // Spaces up to a multiple of 8 keep the data buffer 8-byte aligned in the file.
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t header_length = text.size();

  AtomicFileWriter writer(path);
  writer.write(&header_length, sizeof(header_length));
  writer.write(text.data(), text.size());
  for (const auto& tensor : tensors) writer.write(tensor.bytes);
  writer.commit();
}

}  // namespace llcpress::formats
