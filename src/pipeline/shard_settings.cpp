#include "pipeline/shard_settings.h"

#include <openssl/evp.h>

#include <map>
#include <memory>

#include "core/check.h"

namespace llcpress {

nlohmann::json shard_settings(const nlohmann::json& job_resolved, const Shard& shard) {
  nlohmann::json keys = nlohmann::json::object();
  const std::string method_prefix = "compress." + shard.task + ".";
  for (const auto& [key, value] : job_resolved.items()) {
    const bool common = key == "job.seed" || key == "data.seq_len" || key == "data.batch" ||
                        key == "data.sgld_sequences" || key == "data.eval_sequences";
    const bool task_key = shard.task == "llc" ? key.rfind("llc.", 0) == 0 && key != "llc.enabled"
                                              : key == "compress.eps" || key.rfind(method_prefix, 0) == 0;
    if (common || task_key) keys[key] = value;
  }
  return {{"task", shard.task},
          {"shard", shard.id},
          {"checkpoint", shard.checkpoint},
          {"data_prefix", shard.data_prefix},
          {"heldout_prefix", shard.heldout_prefix},
          {"keys", keys}};
}

std::string settings_digest(const nlohmann::json& settings) {
  const std::string text = settings.dump();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  LLC_CHECK(context && EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) == 1 &&
                EVP_DigestUpdate(context.get(), text.data(), text.size()) == 1 &&
                EVP_DigestFinal_ex(context.get(), digest, &length) == 1,
            BackendError, "OpenSSL", "", "SHA-256 of the shard settings failed");
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

namespace {

void flatten(const nlohmann::json& value, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items())
      flatten(child, prefix.empty() || prefix == "keys" ? key : prefix + "." + key, out);
  } else {
    out[prefix] = value.is_string() ? value.get<std::string>() : value.dump();
  }
}

}  // namespace

std::string describe_settings_change(const nlohmann::json& recorded, const nlohmann::json& planned) {
  std::map<std::string, std::string> before, after;
  flatten(recorded, "", before);
  flatten(planned, "", after);
  std::string text;
  auto add = [&text](const std::string& key, const std::string& from, const std::string& to) {
    text += fmt::format("{}{} {} -> {}", text.empty() ? "" : ", ", key, from, to);
  };
  for (const auto& [key, value] : before) {
    auto found = after.find(key);
    if (found == after.end())
      add(key, value, "(unset)");
    else if (found->second != value)
      add(key, value, found->second);
  }
  for (const auto& [key, value] : after)
    if (!before.count(key)) add(key, "(unset)", value);
  return text.empty() ? "settings differ" : text;
}

}  // namespace llcpress
