// JSON from untrusted files (safetensors headers, config.json, shard indexes).
// Parsing is bounded (nesting depth, no repeated keys) so that later code,
// including nlohmann's recursive dump(), never meets a pathological value; and
// values quoted in error messages are kept short.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace llcpress::formats {

// Parses `text`, throwing InputError at `where` (with `hint`) when it is not
// valid JSON ("<subject> is not valid JSON: ..."), nests containers deeper than
// `max_depth`, or repeats a key inside one object. `describe_duplicate(key,
// depth)` phrases the last case (depth 1 = the top-level object); by default
// "key 'K' appears twice in one JSON object".
nlohmann::json parse_untrusted_json(
    std::string_view text, const std::string& where, const std::string& subject, const std::string& hint, int max_depth,
    const std::function<std::string(const std::string& key, int depth)>& describe_duplicate = {});

// A short description of a value for error messages: primitives and small flat
// containers as JSON text (clipped to 80 characters), anything else as
// "a JSON array of N elements".
std::string json_brief(const nlohmann::json& value);

}  // namespace llcpress::formats
