#include "formats/json_util.h"

#include <set>
#include <vector>

#include "core/check.h"

namespace llcpress::formats {

namespace {

// Thrown from inside the parser callback to stop parsing at the first problem.
struct StopParsing {
  std::string message;
};

}  // namespace

nlohmann::json parse_untrusted_json(std::string_view text, const std::string& where, const std::string& subject,
                                    const std::string& hint, int max_depth,
                                    const std::function<std::string(const std::string&, int)>& describe_duplicate) {
  using Event = nlohmann::json::parse_event_t;
  // One entry per open container: the keys seen so far (empty for arrays).
  std::vector<std::set<std::string>> open_containers;
  auto watch = [&](int, Event event, nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        open_containers.emplace_back();
        if (static_cast<int>(open_containers.size()) > max_depth)
          throw StopParsing{fmt::format("{} nests JSON containers deeper than {} levels", subject, max_depth)};
        break;
      case Event::object_end:
      case Event::array_end:
        if (!open_containers.empty()) open_containers.pop_back();
        break;
      case Event::key:
        if (!open_containers.empty() && parsed.is_string() &&
            !open_containers.back().insert(parsed.get<std::string>()).second) {
          const int depth = static_cast<int>(open_containers.size());
          throw StopParsing{describe_duplicate
                                ? describe_duplicate(parsed.get<std::string>(), depth)
                                : fmt::format("key '{}' appears twice in one JSON object", parsed.get<std::string>())};
        }
        break;
      case Event::value:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), watch);
  } catch (const StopParsing& stop) {
    LLC_THROW(InputError, where, hint, "{}", stop.message);
  } catch (const nlohmann::json::exception& error) {
    LLC_THROW(InputError, where, hint, "{} is not valid JSON: {}", subject, error.what());
  }
}

std::string json_brief(const nlohmann::json& value) {
  constexpr std::size_t kMaxText = 80, kMaxElements = 16;
  auto clip = [&](std::string text) {
    if (text.size() > kMaxText) text = text.substr(0, kMaxText) + "...";
    return text;
  };
  if (value.is_primitive()) return clip(value.dump());
  bool flat = value.size() <= kMaxElements;
  if (flat) {
    for (const auto& element : value) flat = flat && element.is_primitive();
  }
  if (flat) return clip(value.dump());
  return fmt::format("a JSON {} of {} elements", value.type_name(), value.size());
}

}  // namespace llcpress::formats
