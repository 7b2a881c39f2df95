// Helpers shared by the test_torch_bin*.cpp files: reading fixtures, building
// pickle streams and stored ZIP archives byte by byte, and checking errors.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace llcpress::formats::torch_test {

inline std::string fixture(const std::string& name) { return std::string(LLCPRESS_FIXTURE_DIR) + "/" + name; }

inline std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream input(path, std::ios::binary);
  EXPECT_TRUE(input.good()) << path;
  std::vector<char> chars((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream input(path);
  EXPECT_TRUE(input.good()) << path;
  return nlohmann::json::parse(input);
}

inline std::vector<std::byte> to_bytes(const std::string& text) {
  std::vector<std::byte> bytes(text.size());
  if (!text.empty()) std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

inline std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> bytes(hex.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::byte>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return bytes;
}

// Runs `action`, which must throw InputError whose text names `where` and
// contains `problem`; returns the message for further checks.
template <typename Action>
std::string expect_input_error(Action&& action, const std::string& where, const std::string& problem) {
  try {
    action();
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(where), std::string::npos) << "error does not name '" << where << "': " << message;
    EXPECT_NE(message.find(problem), std::string::npos) << "error does not say '" << problem << "': " << message;
    return message;
  } catch (const std::exception& error) {
    ADD_FAILURE() << "expected InputError containing '" << problem << "', got another exception: " << error.what();
    return {};
  }
  ADD_FAILURE() << "expected InputError containing '" << problem << "', nothing was thrown";
  return {};
}

// Protocol-2 pickle opcodes, appended one call at a time.
class PickleBuilder {
 public:
  PickleBuilder() { raw("\x80\x02"); }
  PickleBuilder& raw(const std::string& bytes) {
    data_ += bytes;
    return *this;
  }
  PickleBuilder& byte(std::uint8_t value) {
    data_ += static_cast<char>(value);
    return *this;
  }
  template <typename T>
  PickleBuilder& le(T value) {
    char buffer[sizeof(T)];
    std::memcpy(buffer, &value, sizeof(T));
    data_.append(buffer, sizeof(T));
    return *this;
  }
  PickleBuilder& put() {
    byte('q').byte(memo_++);
    return *this;
  }
  PickleBuilder& text(const std::string& value) { return byte('X').le<std::uint32_t>(value.size()).raw(value); }
  PickleBuilder& global(const std::string& module, const std::string& name) {
    return raw("c" + module + "\n" + name + "\n");
  }
  PickleBuilder& integer(std::int64_t value) {
    if (value >= 0 && value < 256) return byte('K').byte(static_cast<std::uint8_t>(value));
    if (value >= INT32_MIN && value <= INT32_MAX) return byte('J').le<std::int32_t>(static_cast<std::int32_t>(value));
    return byte(0x8a).byte(8).le<std::int64_t>(value);
  }
  PickleBuilder& int_tuple(const std::vector<std::int64_t>& values) {
    byte('(');
    for (auto value : values) integer(value);
    return byte('t');
  }
  // torch's layout of _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()).
  PickleBuilder& tensor(const std::string& storage_class, const std::string& key, std::int64_t numel,
                        std::int64_t offset, const std::vector<std::int64_t>& size,
                        const std::vector<std::int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").raw("((");
    text("storage").global("torch", storage_class).text(key).text("cpu").integer(numel).raw("tQ");
    integer(offset).int_tuple(size).int_tuple(stride);
    return raw("\x89").global("collections", "OrderedDict").raw(")Rt").raw("R");
  }
  // A whole state dict: {name: tensor(...)}.
  struct Entry {
    std::string name, storage_class, key;
    std::int64_t numel, offset;
    std::vector<std::int64_t> size, stride;
  };
  static std::string state_dict(const std::vector<Entry>& entries) {
    PickleBuilder builder;
    builder.raw("}(");
    for (const auto& entry : entries)
      builder.text(entry.name)
          .tensor(entry.storage_class, entry.key, entry.numel, entry.offset, entry.size, entry.stride);
    return builder.raw("u.").str();
  }
  const std::string& str() const { return data_; }

 private:
  std::string data_;
  std::uint8_t memo_ = 0;
};

// A stored (uncompressed) ZIP archive, laid out as zipfile.ZIP_STORED writes
// it, without zip64. CRCs are left zero: the reader does not check them.
inline std::string make_stored_zip(const std::vector<std::pair<std::string, std::string>>& members) {
  auto u16 = [](std::string& out, std::uint16_t v) { out.append(reinterpret_cast<const char*>(&v), 2); };
  auto u32 = [](std::string& out, std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  std::string body, central;
  for (const auto& [name, data] : members) {
    const auto offset = static_cast<std::uint32_t>(body.size());
    u32(body, 0x04034b50);
    u16(body, 20);
    u16(body, 0);
    u16(body, 0);
    u16(body, 0);
    u16(body, 0);
    u32(body, 0);
    u32(body, static_cast<std::uint32_t>(data.size()));
    u32(body, static_cast<std::uint32_t>(data.size()));
    u16(body, static_cast<std::uint16_t>(name.size()));
    u16(body, 0);
    body += name + data;
    u32(central, 0x02014b50);
    u16(central, 20);
    u16(central, 20);
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u32(central, 0);
    u32(central, static_cast<std::uint32_t>(data.size()));
    u32(central, static_cast<std::uint32_t>(data.size()));
    u16(central, static_cast<std::uint16_t>(name.size()));
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u32(central, 0);
    u32(central, offset);
    central += name;
  }
  std::string archive = body + central;
  u32(archive, 0x06054b50);
  u16(archive, 0);
  u16(archive, 0);
  u16(archive, static_cast<std::uint16_t>(members.size()));
  u16(archive, static_cast<std::uint16_t>(members.size()));
  u32(archive, static_cast<std::uint32_t>(central.size()));
  u32(archive, static_cast<std::uint32_t>(body.size()));
  u16(archive, 0);
  return archive;
}

}  // namespace llcpress::formats::torch_test
